// xsfota-sim helpers: build sim images, provision flash files, write slots, otadata and the device config.
//   node build/js/tools/sim/cli.js --help
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildImage, readImage } from "./image.js";
import { OTA_STATES, provision, readOtadata, writeDeviceConfig, writeImage, writeOtadata, type OtaStateName } from "./flash.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const USAGE = `usage: node build/js/tools/sim/cli.js COMMAND [options]
  image --entry SPEC|FILE --version V -o OUT [--modules build/sim/modules.json] [--root build/js]
        build a sim image holding the entry module and everything it imports
  provision --flash FILE [--image IMG] [--partitions hosts/esp32/partitions.csv] [--size BYTES]
        write a fresh flash file (all 0xFF, partition table at 0x8000, IMG in ota_0, otadata blank:
        the bootloader boots ota_0 and records it, as ESP-IDF does without a factory app)
  write-slot --flash FILE --slot ota_1 --image IMG    put an image into a slot (otadata unchanged)
  otadata --flash FILE [--sector 0|1 --seq N --state new|pending-verify|valid|invalid|aborted|undefined|erased]
        print both otadata entries as JSON, or write one
  devconfig --flash FILE --json CONFIG.json            write the device config into fotacfg
  info --image IMG                                     print an image's header and module names`;

function options(args: string[]): Record<string, string> {
	const result: Record<string, string> = {};
	for (let i = 0; i < args.length; i++) {
		const name = args[i].replace(/^--?/, "");
		if (!args[i].startsWith("-") || i + 1 >= args.length)
			throw new Error(`unexpected argument ${args[i]}`);
		result[name] = args[++i];
	}
	return result;
}

function need(opts: Record<string, string>, name: string): string {
	if (!opts[name])
		throw new Error(`missing --${name}`);
	return opts[name];
}

export function main(argv: string[]): number {
	const [command, ...rest] = argv;
	if (!command || command === "--help" || command === "-h") {
		console.log(USAGE);
		return command ? 0 : 2;
	}
	const opts = options(rest);
	switch (command) {
	case "image": {
		const map = JSON.parse(readFileSync(opts.modules ?? resolve(ROOT, "build/sim/modules.json"), "utf8"));
		const image = buildImage({ map, entry: need(opts, "entry"), version: need(opts, "version"), root: opts.root ?? resolve(ROOT, "build/js") });
		writeFileSync(opts.o ?? need(opts, "out"), image);
		return 0;
	}
	case "provision":
		provision(need(opts, "flash"), {
			partitionsCsv: opts.partitions ?? resolve(ROOT, "hosts/esp32/partitions.csv"),
			image: opts.image ? readFileSync(opts.image) : undefined,
			size: opts.size ? Number(opts.size) : undefined,
		});
		return 0;
	case "write-slot":
		writeImage(need(opts, "flash"), need(opts, "slot"), readFileSync(need(opts, "image")));
		return 0;
	case "otadata": {
		const flash = need(opts, "flash");
		if (opts.sector !== undefined) {
			const sector = Number(opts.sector) as 0 | 1;
			if (sector !== 0 && sector !== 1)
				throw new Error("--sector must be 0 or 1");
			const state = need(opts, "state");
			if (state !== "erased" && !(state in OTA_STATES))
				throw new Error(`unknown state ${state}`);
			writeOtadata(flash, sector, state === "erased" ? undefined : { seq: Number(need(opts, "seq")), state: OTA_STATES[state as OtaStateName] });
			return 0;
		}
		console.log(JSON.stringify(readOtadata(flash).map(({ seq, state, crc }) => ({ seq, state, crc }))));
		return 0;
	}
	case "devconfig":
		writeDeviceConfig(need(opts, "flash"), readFileSync(need(opts, "json"), "utf8"));
		return 0;
	case "info":
		console.log(JSON.stringify(readImage(readFileSync(need(opts, "image"))), null, 2));
		return 0;
	default:
		throw new Error(`unknown command ${command}`);
	}
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	try {
		process.exitCode = main(process.argv.slice(2));
	} catch (error) {
		console.error(`xsfota-sim: ${(error as Error).message}`);
		process.exitCode = 2;
	}
}
