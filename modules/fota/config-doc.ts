// Signed config documents (docs/format.md, "Config documents"): how a vendor changes a device's settings over the
// air. A document is an XFC1 envelope signed with a config key (never a firmware key), naming a product, optionally
// the devices it is for, a sequence that only grows per device, and the complete settings. Opened as strictly as a
// manifest: the signature first (the key chosen by the header's id among the config keys), then a bounded parse,
// strict fields, a fresh sequence, and the config that would result checked as the device checks its own. The
// device's identity (deviceId, product, its TLS key and certificates) is never a setting: a document naming one of
// those fields is refused, so no document can change a secret.
// Runs alike in XS and Node: no platform imports; the caller passes verify and sha256.
import { splitConfigEnvelope } from "./envelope.js";
import { unparsable, type TrustedKey, type Verify } from "./manifest.js";
import { decodeUtf8 } from "./utf8.js";
import { ConfigError, parseDeviceConfig, type DeviceConfig, type Sha256 } from "./config.js";
import type { ConfigRejectReason } from "./errors.js";

export const CONFIG_DOC_FORMAT = 1;

/** The fields a document sets, all at once: the settings of a device config. A document lists every one it wants
 * (those it leaves out take their defaults), so that one document is the whole of a device's settings and the last
 * good one restores a device that lost its copies. */
export const SETTINGS = [
	"server", "ca", "keys", "configKeys", "pollSeconds", "jitter", "backoffSeconds", "maxBackoffSeconds", "chunkBytes",
	"window", "withoutClock", "selftestSeconds", "watchdogSeconds", "timeoutSeconds", "requestDeadlineSeconds",
	"imageDeadlineSeconds", "reportDeadlineSeconds", "minRateBytesPerSecond", "rateWindowSeconds", "app",
] as const;
/** Settings without which a document is refused: where the server is, whom to trust, and who may sign the next one. */
export const REQUIRED_SETTINGS = ["server", "ca", "keys", "configKeys"] as const;
/** The device's identity and secrets: provisioning writes them into the factory copy; no document sets them. */
export const IDENTITY_FIELDS = ["deviceId", "product", "clientKey", "clientCertificates"] as const;

const DOC_FIELDS = ["format", "product", "devices", "sequence", "settings"];
const PRODUCT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
export const MAX_DOC_DEVICES = 64;

export interface ConfigDoc {
	keyId: string;
	product: string;
	/** the devices it is for; absent: every device of the product */
	devices?: string[];
	sequence: number;
	settings: Record<string, unknown>;
}

/** What the device holds when it opens a document. */
export interface ConfigContext {
	config: DeviceConfig;
	/** the raw config it runs (identity, settings, and fields this version does not know, which are kept) */
	raw: Record<string, unknown>;
	/** the sequence of the document it runs; 0 for its factory config */
	sequence: number;
	/** a document sequence whose trial failed here: not tried again */
	failedSequence: number;
}

export type OpenedConfig =
	| { ok: true; doc: ConfigDoc; raw: Record<string, unknown>; config: DeviceConfig }
	| { ok: false; reason: ConfigRejectReason; detail: string; sequence?: number };

function refuse(reason: ConfigRejectReason, detail: string, sequence?: number): OpenedConfig {
	return { ok: false, reason, detail, ...(sequence !== undefined ? { sequence } : {}) };
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The document's own fields, checked; a string when they are wrong. */
function docFields(fields: Record<string, unknown>): { product: string; devices?: string[]; sequence: number; settings: Record<string, unknown> } | { reason: ConfigRejectReason; detail: string } {
	if (!("format" in fields))
		return { reason: "missing-field", detail: "format is missing" };
	if (fields.format !== CONFIG_DOC_FORMAT)
		return { reason: "unknown-format", detail: `format ${JSON.stringify(fields.format)}; this device reads config documents of format ${CONFIG_DOC_FORMAT}` };
	for (const name of Object.keys(fields))
		if (!DOC_FIELDS.includes(name))
			return { reason: "malformed", detail: `unknown field ${JSON.stringify(name).slice(0, 40)}` };
	for (const name of ["product", "sequence", "settings"])
		if (!(name in fields))
			return { reason: "missing-field", detail: `${name} is missing` };
	if (typeof fields.product !== "string" || !PRODUCT.test(fields.product))
		return { reason: "wrong-type", detail: "product must be a product name" };
	if (!Number.isSafeInteger(fields.sequence) || (fields.sequence as number) < 1)
		return { reason: "wrong-type", detail: "sequence must be an integer from 1 to 2^53 - 1" };
	if (!isObject(fields.settings))
		return { reason: "wrong-type", detail: "settings must be an object" };
	let devices: string[] | undefined;
	if (fields.devices !== undefined) {
		if (!Array.isArray(fields.devices) || fields.devices.length === 0 || fields.devices.length > MAX_DOC_DEVICES ||
			fields.devices.some((id) => typeof id !== "string" || !DEVICE_ID.test(id)))
			return { reason: "wrong-type", detail: `devices must list 1 to ${MAX_DOC_DEVICES} device ids` };
		devices = fields.devices as string[];
	}
	return { product: fields.product, ...(devices ? { devices } : {}), sequence: fields.sequence as number, settings: fields.settings };
}

/** Opens a config document for this device: authenticates, then reads, then checks it against what the device
 * runs. Nothing is written here; the caller tries the resulting config (client.ts). */
export function openConfigDoc(bytes: Uint8Array, context: ConfigContext, verify: Verify, sha256: Sha256): OpenedConfig {
	const envelope = splitConfigEnvelope(bytes);
	if (!envelope.ok)
		return refuse(envelope.reason, envelope.detail);
	const { config } = context;
	const keyId = envelope.keyId!;
	const key: TrustedKey | undefined = config.configKeys.find((candidate) => candidate.keyId === keyId);
	if (!key) {
		if (config.keys.some((candidate) => candidate.keyId === keyId))
			return refuse("wrong-key-role", `key ${keyId} is a firmware key; a config document must be signed with a config key`);
		if (config.configKeys.length === 0)
			return refuse("no-config-keys", "this device's config names no config key: it takes no config document");
		return refuse("unknown-key", `no config key has id ${keyId}`);
	}
	let verified: boolean;
	try {
		verified = verify(envelope.signature, envelope.signed, key.publicKey) === true;
	}
	catch (error) {
		return refuse("bad-signature", `verification failed: ${error instanceof Error ? error.message : String(error)}`);
	}
	if (!verified)
		return refuse("bad-signature", `the signature does not verify with config key ${keyId}`);
	const text = decodeUtf8(envelope.body);
	if (text === undefined)
		return refuse("malformed", "the body is not valid UTF-8");
	const unsafe = unparsable(text, true);
	if (unsafe)
		return refuse(unsafe.reason, unsafe.detail);
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	}
	catch {
		return refuse("malformed", "the body is not valid JSON");
	}
	if (!isObject(parsed))
		return refuse("malformed", "the body is not a JSON object");
	const fields = docFields(parsed);
	if ("reason" in fields)
		return refuse(fields.reason, fields.detail);
	const { sequence, settings } = fields;
	if (fields.product !== config.product)
		return refuse("wrong-product", `the document is for ${fields.product}, this device is ${config.product}`, sequence);
	if (fields.devices && !fields.devices.includes(config.deviceId))
		return refuse("wrong-device", `the document is for ${fields.devices.length} other device(s), not ${config.deviceId}`, sequence);
	if (sequence <= context.sequence)
		return refuse("replay", `sequence ${sequence} is not newer than the config's ${context.sequence}`, sequence);
	if (sequence === context.failedSequence)
		return refuse("previously-failed", `sequence ${sequence} failed its trial here`, sequence);
	for (const name of Object.keys(settings)) {
		if ((IDENTITY_FIELDS as readonly string[]).includes(name))
			return refuse("secret-field", `${name} is the device's own identity: no config document may set it`, sequence);
		if (!(SETTINGS as readonly string[]).includes(name))
			return refuse("unknown-field", `settings[${JSON.stringify(name.slice(0, 40))}] is not a setting`, sequence);
	}
	for (const name of REQUIRED_SETTINGS)
		if (!(name in settings))
			return refuse("missing-field", `settings.${name} is missing`, sequence);
	// The new config: what the device holds that is not a setting (its identity, and fields this version does not
	// know), then every setting from the document.
	const raw: Record<string, unknown> = {};
	for (const [name, value] of Object.entries(context.raw))
		if (!(SETTINGS as readonly string[]).includes(name))
			raw[name] = value;
	Object.assign(raw, settings);
	let next: DeviceConfig;
	try {
		next = parseDeviceConfig(raw, sha256);
	}
	catch (error) {
		if (error instanceof ConfigError)
			return refuse("invalid-setting", error.message, sequence);
		throw error;
	}
	if (next.configKeys.length === 0)
		return refuse("invalid-setting", "settings.configKeys must list at least one config key: a config without one takes no document again", sequence);
	return {
		ok: true,
		doc: { keyId, product: fields.product, ...(fields.devices ? { devices: fields.devices } : {}), sequence, settings },
		raw,
		config: next,
	};
}
