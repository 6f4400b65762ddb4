// The device config: identity, server, trust anchors and schedule. It lives outside the firmware image
// (its own flash partition) so that every firmware version reads the same one.
// The device's own TLS identity (clientKey, clientCertificates) is here too: it belongs to the device, not to a
// firmware version. No regular expression scans a PEM body: XS's matcher recurses per character and a long
// base64 body overflows a device's stack (modules/fota-moddable/pem.ts).
import { fromHex, toHex } from "./hex.js";
import { encodeUtf8 } from "./utf8.js";
import type { TrustedKey } from "./manifest.js";

export interface MaintenanceWindow {
	/** "HH:MM", UTC */
	start: string;
	/** "HH:MM", UTC; before start means the window spans midnight */
	end: string;
}

export interface DeviceConfig {
	/** The SHA-256 (hex) of the config as read, serialized with JSON.stringify (the form provisioning writes): the
	 * server keeps the last one each device reports, to tell which devices run which config. */
	digest: string;
	deviceId: string;
	product: string;
	/** Base URL of the update server, https:// */
	server: string;
	/** PEM of the CA that signs the server's certificate: the only one trusted */
	ca: string;
	/** The device's private key for mutual TLS: one PEM "PRIVATE KEY" block (PKCS#8) of an RSA key, the only kind
	 * Moddable's TLS can sign its handshake with. Present exactly when clientCertificates is. */
	clientKey?: string;
	/** The device's certificate chain for mutual TLS: PEM "CERTIFICATE" blocks, the device's own first. */
	clientCertificates?: string;
	/** The firmware keys: the only keys a manifest may be signed with. */
	keys: TrustedKey[];
	/** The config keys: the only keys a config document may be signed with (docs/format.md, "Config documents").
	 * Empty: this device takes no config document. A key has one role: no id is in both lists. */
	configKeys: TrustedKey[];
	/** The app's own settings, set by config documents like the rest: a JSON object of at most MAX_APP_CHARS. */
	app: Record<string, unknown>;
	/** Seconds between checks when all is well */
	pollSeconds: number;
	/** Fraction of the poll interval added or taken at random, 0..1 */
	jitter: number;
	/** First back-off after an error, and the cap, in seconds */
	backoffSeconds: number;
	maxBackoffSeconds: number;
	/** Bytes between persisted download checkpoints: a cut costs at most this much. A multiple of 4096. */
	chunkBytes: number;
	window?: MaintenanceWindow;
	/** With a window but no known wall time: "defer" waits for the clock, "allow" ignores the window */
	withoutClock: "defer" | "allow";
	/** Deadline of the self-test of a new image, seconds */
	selftestSeconds: number;
	/** How long the event loop may stay blocked during the self-test before the watchdog resets, seconds */
	watchdogSeconds: number;
	/** Network timeout (connect and stall), seconds */
	timeoutSeconds: number;
	/** The whole of one manifest request, seconds */
	requestDeadlineSeconds: number;
	/** The whole of one image request (a download resumes over several), seconds */
	imageDeadlineSeconds: number;
	/** The whole of one report: it is awaited before a reboot and at boot, so it is short. Seconds */
	reportDeadlineSeconds: number;
	/** Every transfer must bring at least this many bytes a second over each rateWindowSeconds (0: no bound) */
	minRateBytesPerSecond: number;
	rateWindowSeconds: number;
}

export class ConfigError extends Error {
	override name = "ConfigError";
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

function need(condition: boolean, message: string): asserts condition {
	if (!condition)
		throw new ConfigError(`device config: ${message}`);
}

function number(raw: any, name: string, fallback: number, min: number, max: number): number {
	const value = raw[name] ?? fallback;
	need(typeof value === "number" && Number.isFinite(value) && value >= min && value <= max, `${name} must be a number from ${min} to ${max}`);
	return value;
}

function text(raw: any, name: string): string {
	need(typeof raw[name] === "string" && raw[name].length > 0, `${name} must be a non-empty string`);
	return raw[name];
}

/** Bounds on the identity's PEM text: an RSA 4096 key is about 3.3 KB of PEM, a certificate 1 to 2 KB. */
export const MAX_CLIENT_KEY_CHARS = 8192;
export const MAX_CLIENT_CERTIFICATES_CHARS = 16384;
export const MAX_CLIENT_CERTIFICATES = 4;

const BEGIN = "-----BEGIN ", DASHES = "-----";

/** The bodies of the PEM blocks in text, each checked to be base64 and to have the label wanted; nothing but
 * whitespace may stand between blocks. A message names the field and what is wrong. */
function pemBodies(text: string, name: string, label: string): string[] {
	const bodies: string[] = [];
	let at = 0;
	for (;;) {
		let skip = at;
		while (skip < text.length && " \t\r\n".includes(text[skip]))
			skip++;
		if (skip === text.length)
			break;
		need(text.startsWith(BEGIN, skip), `${name} must hold only PEM "${label}" blocks`);
		const labelEnd = text.indexOf(DASHES, skip + BEGIN.length);
		need(labelEnd > 0, `${name}: a BEGIN line has no closing dashes`);
		const found = text.slice(skip + BEGIN.length, labelEnd);
		need(found === label, `${name} must be PEM "${label}", not "${found.slice(0, 40)}"${label === "PRIVATE KEY" && found.endsWith("PRIVATE KEY")
			? " (convert it to unencrypted PKCS#8: openssl pkcs8 -topk8 -nocrypt)" : ""}`);
		const end = `-----END ${label}-----`;
		const stop = text.indexOf(end, labelEnd + DASHES.length);
		need(stop > 0, `${name}: a "${label}" block has no END line`);
		const body = text.slice(labelEnd + DASHES.length, stop);
		let length = 0;
		for (let i = 0; i < body.length; i++) {
			const c = body.charCodeAt(i);
			if (c === 32 || c === 9 || c === 13 || c === 10)
				continue;
			need((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61,
				`${name}: a "${label}" block is not base64`);
			length++;
		}
		need(length > 0 && length % 4 === 0, `${name}: a "${label}" block is not whole base64`);
		bodies.push(body);
		at = stop + end.length;
	}
	return bodies;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** The first bytes that a base64 text (whitespace allowed) encodes, at most count. */
function base64Prefix(body: string, count: number): number[] {
	const bytes: number[] = [];
	let bits = 0, value = 0;
	for (let i = 0; i < body.length && bytes.length < count; i++) {
		const digit = BASE64.indexOf(body[i]);
		if (digit < 0)
			continue; // whitespace; "=" only ends the text
		value = ((value << 6) | digit) & 0xffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bytes.push((value >> bits) & 0xff);
		}
	}
	return bytes;
}

/** PKCS#8's PrivateKeyInfo starts SEQUENCE { INTEGER 0, SEQUENCE { OID rsaEncryption (1.2.840.113549.1.1.1) ... */
const RSA_ENCRYPTION = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

function isRsaPkcs8(body: string): boolean {
	const der = base64Prefix(body, 32);
	if (der[0] !== 0x30)
		return false;
	let at = 1;
	const first = der[at++];
	if (first & 0x80)
		at += first & 0x7f; // long-form length: skip its bytes
	if (der[at] !== 0x02 || der[at + 1] !== 0x01 || der[at + 2] !== 0x00 || der[at + 3] !== 0x30)
		return false;
	at += 4;
	if (der[at++]! & 0x80)
		return false; // an AlgorithmIdentifier is short
	for (let i = 0; i < RSA_ENCRYPTION.length; i++)
		if (der[at + i] !== RSA_ENCRYPTION[i])
			return false;
	return true;
}

/** The device's TLS identity from the raw config: both fields or neither. */
function identity(r: any): { clientKey: string; clientCertificates: string } | undefined {
	const hasKey = r.clientKey !== undefined, hasCertificates = r.clientCertificates !== undefined;
	if (!hasKey && !hasCertificates)
		return undefined;
	need(hasKey && hasCertificates, hasKey ? "clientKey needs clientCertificates (the device's certificate for that key)"
		: "clientCertificates needs clientKey (the device's private key)");
	need(typeof r.clientKey === "string" && r.clientKey.length > 0 && r.clientKey.length <= MAX_CLIENT_KEY_CHARS,
		`clientKey must be a PEM "PRIVATE KEY" of at most ${MAX_CLIENT_KEY_CHARS} characters`);
	need(typeof r.clientCertificates === "string" && r.clientCertificates.length > 0 && r.clientCertificates.length <= MAX_CLIENT_CERTIFICATES_CHARS,
		`clientCertificates must be PEM "CERTIFICATE" blocks of at most ${MAX_CLIENT_CERTIFICATES_CHARS} characters in all`);
	const keys = pemBodies(r.clientKey, "clientKey", "PRIVATE KEY");
	need(keys.length === 1, `clientKey must be exactly one PEM "PRIVATE KEY" block, not ${keys.length}`);
	need(isRsaPkcs8(keys[0]), "clientKey must be an RSA key: Moddable's TLS signs its handshake only with RSA (README, \"Device identity\")");
	const certificates = pemBodies(r.clientCertificates, "clientCertificates", "CERTIFICATE");
	need(certificates.length >= 1 && certificates.length <= MAX_CLIENT_CERTIFICATES,
		`clientCertificates must hold 1 to ${MAX_CLIENT_CERTIFICATES} PEM "CERTIFICATE" blocks, not ${certificates.length}`);
	return { clientKey: r.clientKey, clientCertificates: r.clientCertificates };
}

/** SHA-256 of bytes: the native module on a device, node:crypto in Node. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** A key id: the first 8 bytes of the SHA-256 of the raw public key, in hex (docs/format.md). */
export function keyIdOf(publicKey: Uint8Array, sha256: Sha256): string {
	return toHex(sha256(publicKey).subarray(0, 8));
}

/** The longest JSON text of the app's settings. */
export const MAX_APP_CHARS = 2048;

/** A list of trusted keys (name: "keys" or "configKeys"); each key's id must be the one derived from its key, and
 * unique: a mislabelled key would be chosen for documents it never signed. */
function trustedKeys(list: unknown, name: string, sha256: Sha256, required: boolean): TrustedKey[] {
	if (list === undefined && !required)
		return [];
	need(Array.isArray(list) && (list.length > 0 || !required), required ? `${name} must list at least one trusted key` : `${name} must be a list of keys`);
	need((list as unknown[]).length <= 8, `${name} lists more than 8 keys`);
	const keys: TrustedKey[] = (list as any[]).map((key: any, i: number) => {
		need(typeof key === "object" && key !== null, `${name}[${i}] must be an object`);
		need(typeof key.keyId === "string" && /^[0-9a-f]{16}$/.test(key.keyId), `${name}[${i}].keyId must be 16 hex digits`);
		const publicKey = fromHex(key.publicKey);
		need(publicKey !== undefined && publicKey.length === 32, `${name}[${i}].publicKey must be 64 hex digits`);
		const derived = keyIdOf(publicKey!, sha256);
		need(key.keyId === derived, `${name}[${i}].keyId ${key.keyId} is not the id of its key (${derived})`);
		return { keyId: key.keyId, publicKey: publicKey! };
	});
	const ids = new Set<string>();
	keys.forEach((key, i) => {
		need(!ids.has(key.keyId), `${name}[${i}] repeats key ${key.keyId}`);
		ids.add(key.keyId);
	});
	return keys;
}

/** Validates a parsed config object; throws ConfigError with the first problem found. Fields it does not know are
 * ignored here and kept by the config store (modules/fota/config-store.ts). */
export function parseDeviceConfig(raw: unknown, sha256: Sha256): DeviceConfig {
	need(typeof raw === "object" && raw !== null && !Array.isArray(raw), "must be an object");
	const r = raw as any;
	const server = text(r, "server").replace(/\/+$/, "");
	need(/^https:\/\/[^/\s]+(\/\S*)?$/.test(server), "server must be an https:// URL");
	const ca = text(r, "ca");
	need(ca.includes("-----BEGIN CERTIFICATE-----"), "ca must be a PEM certificate");
	const keys = trustedKeys(r.keys, "keys", sha256, true);
	const configKeys = trustedKeys(r.configKeys, "configKeys", sha256, false);
	for (const key of configKeys)
		need(!keys.some((firmware) => firmware.keyId === key.keyId), `key ${key.keyId} is both a firmware key and a config key: a key has one role`);
	const app = r.app ?? {};
	need(typeof app === "object" && app !== null && !Array.isArray(app), "app must be an object (the app's own settings)");
	need(JSON.stringify(app).length <= MAX_APP_CHARS, `app must be at most ${MAX_APP_CHARS} characters of JSON`);
	let window: MaintenanceWindow | undefined;
	if (r.window !== undefined) {
		need(typeof r.window === "object" && r.window !== null && TIME.test(r.window.start) && TIME.test(r.window.end) && r.window.start !== r.window.end,
			"window must be {start: \"HH:MM\", end: \"HH:MM\"} with different times");
		window = { start: r.window.start, end: r.window.end };
	}
	const withoutClock = r.withoutClock ?? "defer";
	need(withoutClock === "defer" || withoutClock === "allow", "withoutClock must be \"defer\" or \"allow\"");
	const chunkBytes = number(r, "chunkBytes", 16384, 4096, 1048576);
	need(chunkBytes % 4096 === 0, "chunkBytes must be a multiple of 4096");
	const pollSeconds = number(r, "pollSeconds", 3600, 1, 7 * 86400);
	const tls = identity(r);
	return {
		digest: toHex(sha256(encodeUtf8(JSON.stringify(raw)))),
		deviceId: text(r, "deviceId"),
		product: text(r, "product"),
		server,
		ca,
		...(tls ?? {}),
		keys,
		configKeys,
		app,
		pollSeconds,
		jitter: number(r, "jitter", 0.2, 0, 1),
		backoffSeconds: number(r, "backoffSeconds", Math.min(30, pollSeconds), 0.01, 86400),
		maxBackoffSeconds: number(r, "maxBackoffSeconds", Math.max(pollSeconds, 3600), 0.01, 7 * 86400),
		chunkBytes,
		...(window ? { window } : {}),
		withoutClock,
		selftestSeconds: number(r, "selftestSeconds", 60, 1, 3600),
		watchdogSeconds: number(r, "watchdogSeconds", 10, 0.1, 600),
		timeoutSeconds: number(r, "timeoutSeconds", 15, 1, 600),
		requestDeadlineSeconds: number(r, "requestDeadlineSeconds", 30, 1, 3600),
		imageDeadlineSeconds: number(r, "imageDeadlineSeconds", 600, 10, 86400),
		reportDeadlineSeconds: number(r, "reportDeadlineSeconds", 5, 0.5, 60),
		minRateBytesPerSecond: number(r, "minRateBytesPerSecond", 64, 0, 1e9),
		rateWindowSeconds: number(r, "rateWindowSeconds", 30, 1, 3600),
	};
}

/** The longest text a report carries for one config field (the server's bound); a longer one is left out. */
const MAX_REPORTED_TEXT = 256;

/** Each config's reportable fields, made once: a config never changes once parsed, and every report carries them
 * (made per report, the entries of the config are a few kilobytes of garbage each time: README, "Memory"). */
const reportable = new WeakMap<DeviceConfig, Readonly<Record<string, string | number | boolean>>>();

/** The config's fields that are safe to tell the server (no keys, certificates, private key, nor the app's settings,
 * which may hold its own tokens): its scalars, and the trusted key ids of both roles. Reported with the config's digest
 * as a backup of what each device runs. Made on the first call for a config (the client makes it when it starts),
 * then the same frozen object. */
export function reportableConfig(config: DeviceConfig): Readonly<Record<string, string | number | boolean>> {
	const made = reportable.get(config);
	if (made)
		return made;
	const fields: Record<string, string | number | boolean> = {};
	for (const name of Object.keys(config)) {
		if (name === "digest" || name === "ca" || name === "clientKey" || name === "clientCertificates" || name === "app")
			continue;
		const value = (config as unknown as Record<string, unknown>)[name];
		if ((typeof value === "string" && value.length <= MAX_REPORTED_TEXT) || typeof value === "number" || typeof value === "boolean")
			fields[name] = value;
	}
	const keyIds = config.keys.map((key) => key.keyId).join(",");
	if (keyIds.length <= MAX_REPORTED_TEXT)
		fields.keyIds = keyIds;
	const configKeyIds = config.configKeys.map((key) => key.keyId).join(",");
	if (configKeyIds.length <= MAX_REPORTED_TEXT)
		fields.configKeyIds = configKeyIds;
	Object.freeze(fields);
	reportable.set(config, fields);
	return fields;
}
