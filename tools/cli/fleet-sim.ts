// xs-fota fleet-sim: thousands of virtual devices in this process (tools/fleet), each the real update client over
// in-memory flash, speaking HTTPS with mutual TLS to a management server, some failing their trial, hanging or
// offline; a live summary line every interval, and a summary of the run at the end.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CliError, USAGE } from "./errors.js";
import { readPublicKey } from "./keys.js";
import { integerOption, type Command } from "./options.js";
import { startFleet, type FleetOptions } from "../fleet/fleet.js";
import { finalSummary, summaryLine } from "../fleet/summary.js";

/** A decimal number from min to max. */
function numberOption(name: string, text: string, min: number, max: number): number {
	const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
	if (!(value >= min && value <= max))
		throw new CliError(`--${name} must be a number from ${min} to ${max}, not ${JSON.stringify(text)}`, USAGE);
	return value;
}

function readText(path: string, what: string): string {
	try {
		return readFileSync(path, "utf8");
	} catch (error) {
		throw new CliError(`cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
	}
}

/** The device CA's certificate and key: DIR/device-ca.pem and .key, or CERT.pem with --device-ca-key (default: CERT's
 * name with .key). */
function deviceCaFiles(values: Record<string, string | undefined>): { cert: string; key: string } {
	const given = values["device-ca"] ?? values.certs;
	if (given === undefined)
		throw new CliError(`missing --device-ca DIR (or --certs DIR): the device CA that signs the virtual devices' certificates`, USAGE);
	const isDir = existsSync(given) && statSync(given).isDirectory();
	const cert = isDir ? join(given, "device-ca.pem") : given;
	const key = values["device-ca-key"] ?? (isDir ? join(given, "device-ca.key") : given.replace(/(\.pem)?$/, ".key"));
	for (const path of [cert, key])
		if (!existsSync(path))
			throw new CliError(`${path} is missing: --device-ca takes the folder xs-fota init wrote, or the CA's certificate (and --device-ca-key)`);
	return { cert, key };
}

export const fleetSim: Command = {
	name: "fleet-sim",
	usage: `usage: xs-fota fleet-sim --server URL --product P --pub KEY.pub --version V
                         (--certs DIR | --ca CA.pem --device-ca DIR|CERT.pem [--device-ca-key KEY])
                         [--devices 100] [--kind sim] [--fail 0] [--hang 0] [--offline 0]
                         [--poll-seconds 60] [--jitter 0.5] [--duration SECONDS] [--prefix sim] [--seed 1]
                         [--cert-cache DIR] [--interval 2] [--json]

Runs --devices virtual devices in this process against the management server at --server: each runs the real
update client over in-memory flash, starting on firmware --version (of --kind), and speaks HTTPS with mutual TLS
with its own certificate (CN = its id, <prefix>-00001 ...) signed by the device CA. --certs is the folder
\`xs-fota init\` wrote (ca.pem, device-ca.pem, device-ca.key); --ca and --device-ca name the files instead.
--pub (repeatable) is the product's trusted public key, from \`xs-fota keygen\`.
--fail, --hang and --offline are shares of the devices (0 to 1): a failing device's trial fails on any new image,
so it rolls back and reports rolled-back; a hanging one goes silent once it has reported "downloading"; an
offline one never connects. Which devices they are follows from a hash of the id and --seed.
All devices start at once; each polls every --poll-seconds, spread by --jitter (a fraction of the interval), its
first poll too. A summary line is printed every --interval seconds, and a summary of the run at the end (after
--duration seconds, or at Ctrl-C); --json prints the final figures as one JSON object instead.
--cert-cache keeps the devices' key and certificates in a folder, so that the next run makes none.`,
	options: {
		server: { required: true }, product: { required: true }, pub: { multiple: true, required: true }, version: { required: true },
		certs: {}, ca: {}, "device-ca": {}, "device-ca-key": {}, devices: {}, kind: {}, fail: {}, hang: {}, offline: {},
		"poll-seconds": {}, jitter: {}, duration: {}, prefix: {}, seed: {}, "cert-cache": {}, interval: {}, json: { flag: true },
	},
	async run(values, lists) {
		if (!/^https:\/\/[^/\s]+$/.test(values.server!))
			throw new CliError(`--server must be an https:// URL with no path, not ${JSON.stringify(values.server)}`, USAGE);
		const caPath = values.ca ?? (values.certs !== undefined ? join(values.certs, "ca.pem") : undefined);
		if (caPath === undefined)
			throw new CliError(`missing --ca (or --certs DIR): the CA of the server's certificate, which the devices pin`, USAGE);
		const serverCa = readText(caPath, "server CA");
		if (!serverCa.includes("-----BEGIN CERTIFICATE-----"))
			throw new CliError(`${caPath} is not a PEM certificate`);
		const deviceCa = deviceCaFiles(values);
		const keys = lists.pub!.map((path) => {
			const key = readPublicKey(path);
			return { keyId: key.keyId, publicKey: Buffer.from(key.publicKey).toString("hex") };
		});
		const shares = { failShare: 0, hangShare: 0, offlineShare: 0 };
		for (const [option, name] of [["fail", "failShare"], ["hang", "hangShare"], ["offline", "offlineShare"]] as const)
			if (values[option] !== undefined)
				shares[name] = numberOption(option, values[option]!, 0, 1);
		if (shares.failShare + shares.hangShare + shares.offlineShare > 1)
			throw new CliError(`--fail, --hang and --offline add up to more than 1`, USAGE);
		const prefix = values.prefix ?? "sim";
		if (!/^[A-Za-z0-9._-]{1,58}$/.test(prefix))
			throw new CliError(`--prefix must be 1 to 58 characters of A-Z a-z 0-9 . _ - (a device id is <prefix>-00001)`, USAGE);
		const options: FleetOptions = {
			server: values.server!,
			serverCa,
			deviceCa,
			product: values.product!,
			count: values.devices === undefined ? 100 : Math.max(1, integerOption("devices", values.devices, 100000)),
			idPrefix: prefix,
			version: values.version!,
			kind: values.kind ?? "sim",
			keys,
			pollSeconds: values["poll-seconds"] === undefined ? 60 : numberOption("poll-seconds", values["poll-seconds"], 1, 7 * 86400),
			jitter: values.jitter === undefined ? 0.5 : numberOption("jitter", values.jitter, 0, 1),
			seed: values.seed === undefined ? 1 : integerOption("seed", values.seed, 0xffffffff),
			...shares,
			...(values["cert-cache"] !== undefined ? { certificateCache: values["cert-cache"] } : {}),
		};
		const duration = values.duration === undefined ? undefined : numberOption("duration", values.duration, 0.1, 365 * 86400);
		const interval = values.interval === undefined ? 2 : numberOption("interval", values.interval, 0.1, 3600);
		const json = values.json === "true";
		let fleet;
		try {
			fleet = await startFleet(options);
		} catch (error) {
			throw new CliError((error as Error).message);
		}
		if (!json)
			console.log(`${options.count} virtual devices of ${options.product} on ${options.version} against ${options.server}`
				+ ` (fail ${shares.failShare}, hang ${shares.hangShare}, offline ${shares.offlineShare}; poll ${options.pollSeconds} s, jitter ${options.jitter})`);
		let mark = { at: 0, checkins: 0, failures: 0 };
		const ticker = setInterval(() => {
			const next = summaryLine(fleet, mark);
			mark = next.mark;
			if (!json)
				console.log(next.line);
		}, interval * 1000);
		await new Promise<void>((resolve) => {
			const timer = duration === undefined ? undefined : setTimeout(resolve, duration * 1000);
			for (const signal of ["SIGINT", "SIGTERM"] as const)
				process.once(signal, () => {
					clearTimeout(timer);
					resolve();
				});
		});
		clearInterval(ticker);
		const stats = fleet.stats();
		await fleet.stop();
		if (json)
			console.log(JSON.stringify({ ...stats, requests: fleet.requests.counts,
				failureReasons: Object.fromEntries(fleet.requests.failureReasons()) }));
		else
			console.log(finalSummary(fleet, stats));
	},
};
