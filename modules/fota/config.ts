// The device config: identity, server, trust anchors and schedule. It lives outside the firmware image
// (its own flash partition) so that every firmware version reads the same one.
import { fromHex, toHex } from "./hex.js";
import type { TrustedKey } from "./manifest.js";

export interface MaintenanceWindow {
	/** "HH:MM", UTC */
	start: string;
	/** "HH:MM", UTC; before start means the window spans midnight */
	end: string;
}

export interface DeviceConfig {
	deviceId: string;
	product: string;
	/** Base URL of the update server, https:// */
	server: string;
	/** PEM of the CA that signs the server's certificate: the only one trusted */
	ca: string;
	keys: TrustedKey[];
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

/** SHA-256 of bytes: the native module on a device, node:crypto in Node. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** A key id: the first 8 bytes of the SHA-256 of the raw public key, in hex (docs/format.md). */
export function keyIdOf(publicKey: Uint8Array, sha256: Sha256): string {
	return toHex(sha256(publicKey).subarray(0, 8));
}

/** Validates a parsed config object; throws ConfigError with the first problem found. Each trusted key's id must be
 * the one derived from its key, and unique: a mislabelled key would be chosen for manifests it never signed. */
export function parseDeviceConfig(raw: unknown, sha256: Sha256): DeviceConfig {
	need(typeof raw === "object" && raw !== null && !Array.isArray(raw), "must be an object");
	const r = raw as any;
	const server = text(r, "server").replace(/\/+$/, "");
	need(/^https:\/\/[^/\s]+(\/\S*)?$/.test(server), "server must be an https:// URL");
	const ca = text(r, "ca");
	need(ca.includes("-----BEGIN CERTIFICATE-----"), "ca must be a PEM certificate");
	need(Array.isArray(r.keys) && r.keys.length > 0, "keys must list at least one trusted key");
	const keys: TrustedKey[] = r.keys.map((key: any, i: number) => {
		need(typeof key === "object" && key !== null, `keys[${i}] must be an object`);
		need(typeof key.keyId === "string" && /^[0-9a-f]{16}$/.test(key.keyId), `keys[${i}].keyId must be 16 hex digits`);
		const publicKey = fromHex(key.publicKey);
		need(publicKey !== undefined && publicKey.length === 32, `keys[${i}].publicKey must be 64 hex digits`);
		const derived = keyIdOf(publicKey!, sha256);
		need(key.keyId === derived, `keys[${i}].keyId ${key.keyId} is not the id of its key (${derived})`);
		return { keyId: key.keyId, publicKey: publicKey! };
	});
	const ids = new Set<string>();
	keys.forEach((key, i) => {
		need(!ids.has(key.keyId), `keys[${i}] repeats key ${key.keyId}`);
		ids.add(key.keyId);
	});
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
	return {
		deviceId: text(r, "deviceId"),
		product: text(r, "product"),
		server,
		ca,
		keys,
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
