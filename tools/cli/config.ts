// `xs-fota config sign|push|show`: configuration over the air (issue 12) from the command line.
//   sign  makes a signed config document (tools/release/config-doc.ts signConfigDoc) from a settings file and --set
//         overrides, with a config key; it refuses to write one a device would refuse
//   push  uploads it through the admin API (POST /v1/admin/configs), where the server checks it again against the
//         product's config keys
//   show  what the server knows of a device's config: what it runs, its last known good config, the document waiting
//         for it, the documents that failed on it, and its config history
import { writeFileSync } from "node:fs";
import { CliError, USAGE } from "./errors.js";
import { client, CLIENT_OPTIONS, CLIENT_USAGE, readInput, show } from "./admin.js";
import { integerOption, type Command } from "./options.js";
import { keyIdOf, nodeSha256, rawPublicKey, readPrivateKey } from "./keys.js";
import { nodeVerify } from "./verifier.js";
import { ConfigDocError, signConfigDoc } from "../release/config-doc.js";
import { adminPaths, type ConfigDocView, type DeviceConfigView } from "../server/admin-api.js";

/** The settings file (a JSON object), then each --set name=JSON over it. */
export function settingsOf(file: string, sets: readonly string[]): Record<string, unknown> {
	let settings: unknown;
	try {
		settings = JSON.parse(readInput(file, "settings file").toString("utf8"));
	} catch (error) {
		if (error instanceof CliError)
			throw error;
		throw new CliError(`the settings file ${file} is not JSON: ${(error as Error).message}`);
	}
	if (typeof settings !== "object" || settings === null || Array.isArray(settings))
		throw new CliError(`the settings file ${file} must hold a JSON object of settings, e.g. {"server": "https://...", "pollSeconds": 600}`);
	const out = { ...(settings as Record<string, unknown>) };
	for (const set of sets) {
		const equals = set.indexOf("=");
		const name = equals < 0 ? "" : set.slice(0, equals);
		if (!/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(name))
			throw new CliError(`--set ${JSON.stringify(set)} must be NAME=JSON, e.g. pollSeconds=600 or 'window={"start":"02:00","end":"04:00"}'`, USAGE);
		try {
			out[name] = JSON.parse(set.slice(equals + 1));
		} catch {
			throw new CliError(`--set ${name}: ${JSON.stringify(set.slice(equals + 1))} is not JSON (a string needs its quotes: ${name}='"text"')`, USAGE);
		}
	}
	return out;
}

const sign: Command = {
	name: "config sign",
	usage: `usage: xs-fota config sign --key K.key --product P [--device ID]... --sequence N --settings FILE.json [--set NAME=JSON]... --out FILE.xfc

Signs a config document with a config key (xs-fota keygen; trusted by the server with xs-fota keys add --role config,
and by devices through their config's configKeys). The settings file holds the whole of the devices' settings
(server, ca, keys, configKeys, and any of pollSeconds, window, chunkBytes, app, ...); each --set replaces one of
them. Without --device the document is for every device of the product. N must be above the sequence each device
runs. The document is checked as a device checks it before it is written: a key, secret or unknown field, or a
missing required setting, is refused here.`,
	options: { key: { required: true }, product: { required: true }, device: { multiple: true }, sequence: { required: true }, settings: { required: true },
		set: { multiple: true }, out: { required: true } },
	run(values, lists) {
		const sequence = integerOption("sequence", values.sequence!, Number.MAX_SAFE_INTEGER);
		if (sequence < 1)
			throw new CliError("--sequence must be 1 or more (0 names a device's factory config)", USAGE);
		const privateKey = readPrivateKey(values.key!);
		const publicKey = rawPublicKey(privateKey);
		const settings = settingsOf(values.settings!, lists.set!);
		const devices = lists.device!;
		const keyId = keyIdOf(publicKey);
		if (Array.isArray(settings.keys) && settings.keys.some((key) => (key as { keyId?: unknown } | null)?.keyId === keyId))
			throw new CliError(`cannot sign the config document (wrong-key-role): ${values.key} is firmware key ${keyId} in these settings' keys; sign with a config key`);
		let bytes: Uint8Array;
		try {
			bytes = signConfigDoc({ product: values.product!, ...(devices.length ? { devices } : {}), sequence, settings },
				{ keyId, publicKey, privateKey }, nodeVerify, nodeSha256);
		} catch (error) {
			if (error instanceof ConfigDocError || error instanceof RangeError)
				throw new CliError(`cannot sign the config document: ${error.message}`);
			throw error;
		}
		try {
			writeFileSync(values.out!, bytes);
		} catch (error) {
			throw new CliError(`cannot write ${values.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
		}
		console.log(`config document ${sequence} for ${values.product} (${devices.length ? devices.join(", ") : "every device"}), signed with config key ${keyId}: ${values.out} (${bytes.length} bytes)`);
	},
};

const push: Command = {
	name: "config push",
	positionals: ["file"],
	usage: `usage: xs-fota config push FILE.xfc [--staged] [--server URL] [--ca FILE] [--token T]

Uploads a signed config document (xs-fota config sign). The server refuses it, with the device's reason, unless it
verifies with one of the product's config keys (not a firmware key) and its sequence is new for the product.
Without --staged it is given to every device it is for at its next check; with --staged only through a config
rollout (xs-fota rollout create --config N). ${CLIENT_USAGE}`,
	options: { staged: { flag: true }, ...CLIENT_OPTIONS },
	async run(values) {
		const bytes = readInput(values.file!, "config document");
		const view = await client(values)("POST", adminPaths.configs(), { document: bytes.toString("base64"), ...(values.staged === "true" ? { staged: true } : {}) }) as ConfigDocView;
		show(view);
	},
};

/** A device's config in a few lines a person can read. */
export function describeConfig(view: DeviceConfigView): string {
	const short = (sha256: string | null) => sha256 ? sha256.slice(0, 12) : "unknown";
	const lines: string[] = [];
	const current = view.current;
	if (!current || current.sequence === null)
		lines.push(`${view.deviceId}: config unknown (it has not named one)`);
	else
		lines.push(`${view.deviceId}: config ${current.sequence}${current.source === "factory" ? " (FACTORY copy)" : current.source ? ` (${current.source} copy)` : ""}` +
			`, sha256 ${short(current.sha256)}, as of ${current.updatedAt}${current.lost.length ? `; lost copies: ${current.lost.join(", ")}` : ""}`);
	lines.push(view.lastKnownGood ? `  last known good: config ${view.lastKnownGood.sequence}, sha256 ${short(view.lastKnownGood.sha256)}, kept ${view.lastKnownGood.at}`
		: "  last known good: none yet");
	lines.push(view.pending ? `  pending: config ${view.pending.sequence}${view.pending.staged ? " (through a config rollout)" : ""}` : "  pending: nothing");
	for (const failure of view.failed)
		lines.push(`  failed: config ${failure.sequence} ${failure.state}${failure.reason ? `: ${failure.reason}` : ""} (${failure.at})`);
	if (view.history.length)
		lines.push("  history, newest first:");
	for (const entry of view.history)
		lines.push(`    ${entry.at} ${entry.state === "config" ? `runs config ${entry.sequence ?? "?"}${entry.source ? ` (${entry.source})` : ""}` : `${entry.state} config ${entry.target}`}` +
			`${entry.error ? `: ${entry.error}` : ""}`);
	return lines.join("\n");
}

const showConfig: Command = {
	name: "config show",
	positionals: ["device"],
	usage: `usage: xs-fota config show DEVICE [--json] [--server URL] [--ca FILE] [--token T]

What the server knows of a device's config: the document it runs (0: its factory config) and from which copy, its
last known good config, the document waiting for it, the documents that failed on it, and its history. ${CLIENT_USAGE}`,
	options: { json: { flag: true }, ...CLIENT_OPTIONS },
	async run(values) {
		if (!/^[A-Za-z0-9._-]{1,64}$/.test(values.device!))
			throw new CliError(`${JSON.stringify(values.device)} is not a device id (1 to 64 of A-Z a-z 0-9 . _ -)`, USAGE);
		const view = await client(values)("GET", adminPaths.deviceConfig(values.device!)) as DeviceConfigView;
		console.log(values.json === "true" ? JSON.stringify(view, null, 2) : describeConfig(view));
	},
};

export const CONFIG_COMMANDS: Command[] = [sign, push, showConfig];
