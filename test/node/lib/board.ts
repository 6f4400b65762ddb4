// Drives the simulated board from Node: builds images of fixtures, provisions flash files, runs boards, reads logs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../../tools/sim/image.js";
import { provision, writeImage } from "../../../tools/sim/flash.js";
import { BUILD_JS, HOST, MODULE_MAP, ROOT, fixture } from "./paths.js";

export interface BoardEvent {
	type: string;
	t: number;
	boot: number;
	ops: number;
	[field: string]: any;
}

export interface BoardRun {
	status: number | null;
	stderr: string;
	stdout: string;
	events: BoardEvent[];
}

const map = JSON.parse(readFileSync(MODULE_MAP, "utf8"));
const images = new Map<string, Buffer>();

/** A sim image of test/fixtures/board/NAME.ts, cached per name and version. */
export function image(name: string, version: string): Buffer {
	const key = `${name}@${version}`;
	let built = images.get(key);
	if (!built) {
		built = buildImage({ map, entry: fixture(`board/${name}.js`), version, root: BUILD_JS });
		images.set(key, built);
	}
	return built;
}

/** A fresh flash file with `first` in ota_0 and, if given, `second` in ota_1. */
export function device(first: Buffer, second?: Buffer): string {
	const flash = join(mkdtempSync(join(tmpdir(), "xs-fota-board-")), "flash.bin");
	provision(flash, { partitionsCsv: join(ROOT, "hosts/esp32/partitions.csv"), image: first });
	if (second)
		writeImage(flash, "ota_1", second);
	return flash;
}

export function runBoard(flash: string, args: string[] = [], env: Record<string, string> = {}): BoardRun {
	const log = flash.replace(/\.bin$/, "") + `-${Math.random().toString(36).slice(2)}.jsonl`;
	const result = spawnSync(HOST, ["board", "--flash", flash, "--log", log, ...args],
		{ encoding: "utf8", timeout: 20000, env: { ...process.env, ...env } });
	let text = "";
	try {
		text = readFileSync(log, "utf8");
	} catch {
		// no events
	}
	return {
		status: result.status, stdout: result.stdout, stderr: result.stderr,
		events: text.split("\n").filter(Boolean).map((line) => JSON.parse(line)),
	};
}

export function boots(run: BoardRun): BoardEvent[] {
	return run.events.filter((event) => event.type === "boot");
}
