// Opens a signed update manifest (docs/format.md): bounds its size, splits the envelope, finds the trusted key
// named by the body's keyId, verifies the Ed25519 signature over the exact bytes, and only then validates
// the fields. Runs alike in XS and Node: no platform imports; the caller passes the verify function.
import { splitEnvelope } from "./envelope.js";
import { decodeUtf8 } from "./utf8.js";
import { isSemver } from "./semver.js";

export { MAX_MANIFEST_BYTES } from "./envelope.js";
export { compareSemver } from "./semver.js";

export type ManifestReason = "oversized" | "malformed" | "unknown-format" | "missing-field" | "wrong-type" | "unknown-key" | "bad-signature";
/** An image kind: what runs it. "esp32" (an ESP-IDF app), "lin" (an mc.so for Moddable's desktop simulator),
 * "sim" (our sim host). The format keeps the set open: a kind is 1 to 8 lower-case letters and digits (the image
 * header's field), and a device takes only its own kind ("wrong-kind" otherwise). */
export type ImageKind = string;
export const IMAGE_KINDS: readonly ImageKind[] = ["esp32", "lin", "sim"];
export const IMAGE_KIND = /^[a-z0-9]{1,8}$/;

export interface ImageRef { size: number; sha256: string; url: string; kind: ImageKind; }
export interface UpdateManifest { format: 1; keyId: string; product: string; version: string; securityVersion: number; sequence: number; image: ImageRef; expires?: number; }
export interface TrustedKey { keyId: string; publicKey: Uint8Array; }
export type Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
export type OpenResult = { ok: true; manifest: UpdateManifest } | { ok: false; reason: ManifestReason; detail: string };

export const FORMAT = 1;
const KEY_ID = /^[0-9a-f]{16}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const PRODUCT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_VERSION_LENGTH = 128;
const MAX_URL_LENGTH = 1024;
const MAX_U32 = 0xffffffff;
const TOP_FIELDS = ["format", "keyId", "product", "version", "securityVersion", "sequence", "image", "expires"];
const IMAGE_FIELDS = ["size", "sha256", "url", "kind"];

type Fields = Record<string, unknown>;

class Rejection {
	constructor(readonly reason: ManifestReason, readonly detail: string) {}
}

function isObject(value: unknown): value is Fields {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function present(fields: Fields, name: string, path: string): unknown {
	if (!Object.prototype.hasOwnProperty.call(fields, name))
		throw new Rejection("missing-field", `${path}${name} is missing`);
	return fields[name];
}

function string(fields: Fields, name: string, path = ""): string {
	const value = present(fields, name, path);
	if (typeof value !== "string")
		throw new Rejection("wrong-type", `${path}${name} must be a string`);
	return value;
}

function integer(fields: Fields, name: string, min: number, max: number, path = ""): number {
	const value = present(fields, name, path);
	if (typeof value !== "number" || !Number.isInteger(value))
		throw new Rejection("wrong-type", `${path}${name} must be an integer`);
	if (value < min || value > max)
		throw new Rejection("wrong-type", `${path}${name} must be ${min} to ${max}`);
	return value;
}

function matching(value: string, pattern: RegExp, name: string, what: string): string {
	if (!pattern.test(value))
		throw new Rejection("wrong-type", `${name} must be ${what}`);
	return value;
}

function onlyKnown(fields: Fields, known: string[], path: string): void {
	for (const name of Object.keys(fields))
		if (!known.includes(name))
			throw new Rejection("malformed", `unknown field ${path}${JSON.stringify(name).slice(0, 40)}`);
}

const URL_FORBIDDEN = /[\u0000-\u0020\u007f\\]/;
const HTTPS_WITH_HOST = /^https:\/\/[^/?#@]+(?:[/?#]|$)/;
const ANY_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** An absolute https URL, or one relative to the manifest's URL; never another scheme or a host switch. (The patterns
 * are made once: a regular expression literal is compiled again each time it is evaluated.) */
function checkUrl(url: string): string {
	if (url.length === 0 || url.length > MAX_URL_LENGTH || URL_FORBIDDEN.test(url))
		throw new Rejection("wrong-type", `image.url must be 1 to ${MAX_URL_LENGTH} characters without spaces, controls or backslashes`);
	if (HTTPS_WITH_HOST.test(url))
		return url;
	if (ANY_SCHEME.test(url) || url.startsWith("//"))
		throw new Rejection("wrong-type", "image.url must be https:// with a host, or relative to the manifest");
	return url;
}

function validate(fields: Fields): UpdateManifest {
	const format = present(fields, "format", "");
	if (typeof format !== "number")
		throw new Rejection("wrong-type", "format must be a number");
	if (format !== FORMAT)
		throw new Rejection("unknown-format", `format ${format}; this device reads format ${FORMAT}`);
	onlyKnown(fields, TOP_FIELDS, "");
	const keyId = matching(string(fields, "keyId"), KEY_ID, "keyId", "16 lower-case hex characters");
	const product = matching(string(fields, "product"), PRODUCT, "product", "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
	const version = string(fields, "version");
	if (version.length > MAX_VERSION_LENGTH || !isSemver(version))
		throw new Rejection("wrong-type", "version must be a semantic version (semver 2.0.0)");
	const securityVersion = integer(fields, "securityVersion", 0, MAX_U32);
	const sequence = integer(fields, "sequence", 0, Number.MAX_SAFE_INTEGER);
	const image = present(fields, "image", "");
	if (!isObject(image))
		throw new Rejection("wrong-type", "image must be an object");
	onlyKnown(image, IMAGE_FIELDS, "image.");
	const size = integer(image, "size", 1, MAX_U32, "image.");
	const sha256 = matching(string(image, "sha256", "image."), SHA256_HEX, "image.sha256", "64 lower-case hex characters");
	const url = checkUrl(string(image, "url", "image."));
	const kind = matching(string(image, "kind", "image."), IMAGE_KIND, "image.kind", "1 to 8 lower-case letters and digits");
	const manifest: UpdateManifest = {
		format: FORMAT, keyId, product, version, securityVersion, sequence,
		image: Object.freeze({ size, sha256, url, kind }),
	};
	if (Object.prototype.hasOwnProperty.call(fields, "expires"))
		manifest.expires = integer(fields, "expires", 0, Number.MAX_SAFE_INTEGER);
	return Object.freeze(manifest);
}

function reject(reason: ManifestReason, detail: string): OpenResult {
	return { ok: false, reason, detail };
}

/** The deepest nesting of arrays and objects a manifest body may have (it has 2): checked on the text before
 * JSON.parse, whose recursion a deep body would take past the machine's stack (XS aborts, uncatchably). */
export const MAX_DEPTH = 8;

const charCodeAt = String.prototype.charCodeAt;
const slice = String.prototype.slice;
/** The numbers unparsable lets through: made once, not per number (a regular expression literal is a new object
 * each time it is evaluated) */
const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const DECIMAL = /^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?$/;

/** A character of a number token as JSON writes it and the check reads it: - + . e E 0-9. */
function inNumber(c: number): boolean {
	return c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45 || (c >= 0x30 && c <= 0x39);
}

/** One pass over the body's text, outside its strings: why it must not be parsed, or undefined.
 *  - Nesting deeper than MAX_DEPTH: JSON.parse's recursion would take a deep body past the machine's stack.
 *  - A number that is not a canonical decimal integer (a fraction, an exponent, a plus sign, a leading zero,
 *    -0): JSON.parse would read 2.0, 2e0, 1e-400 (as 0), -0 and 2.0000000000000001 as integers, and XS and Node
 *    round some of them apart, so the CLI and the device could disagree on a signed number. A negative integer
 *    passes here and fails its field's range. With `fractions` (config documents: a jitter of 0.2), a plain decimal
 *    with at most 6 digits after the point passes too: short enough that every engine reads it alike. */
export function unparsable(text: string, fractions = false): { reason: "malformed" | "wrong-type"; detail: string } | undefined {
	// read through charCodeAt.call: in XS, text.charCodeAt(i) makes a String wrapper per character (README, "Memory")
	const length = text.length;
	let depth = 0, inString = false;
	for (let i = 0; i < length; i++) {
		const c: number = charCodeAt.call(text, i);
		if (inString) {
			if (c === 0x5c) // backslash: skip the escaped character
				i++;
			else if (c === 0x22)
				inString = false;
		}
		else if (c === 0x22)
			inString = true;
		else if (c === 0x5b || c === 0x7b) {
			if (++depth > MAX_DEPTH)
				return { reason: "malformed", detail: `the body nests deeper than ${MAX_DEPTH}` };
		}
		else if (c === 0x5d || c === 0x7d)
			depth--;
		else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
			let end = i;
			while (end < length && inNumber(charCodeAt.call(text, end)))
				end++;
			const token: string = slice.call(text, i, end);
			if (!(fractions ? DECIMAL : INTEGER).test(token) || token === "-0")
				return { reason: "wrong-type", detail: fractions ? `numbers must be plain decimals (at most 15 digits before the point and 6 after), not ${token.slice(0, 32)}`
					: `numbers must be canonical decimal integers, not ${token.slice(0, 32)}` };
			i = end - 1;
		}
	}
	return undefined;
}

function verifies(verify: Verify, signature: Uint8Array, signed: Uint8Array, key: TrustedKey): boolean | string {
	try {
		return verify(signature, signed, key.publicKey) === true;
	}
	catch (error) {
		return `verification failed: ${error instanceof Error ? error.message : String(error)}`;
	}
}

/** Authenticates, then reads: checks the envelope, chooses the key (XFM2: by the header's key id; XFM1: the trusted
 * key whose signature verifies, each tried in turn), verifies the signature over the exact bytes, and only then
 * decodes the body, bounded in depth, checks its numbers on the text, parses it and validates the fields. */
export function openSignedManifest(bytes: Uint8Array, keys: readonly TrustedKey[], verify: Verify): OpenResult {
	const envelope = splitEnvelope(bytes);
	if (!envelope.ok)
		return reject(envelope.reason, envelope.detail);
	let key: TrustedKey | undefined;
	if (envelope.version === 2) {
		key = keys.find((candidate) => candidate.keyId === envelope.keyId);
		if (!key)
			return reject("unknown-key", `no trusted key has id ${envelope.keyId}`);
		const verified = verifies(verify, envelope.signature, envelope.signed, key);
		if (verified !== true)
			return reject("bad-signature", typeof verified === "string" ? verified : `the signature does not verify with key ${key.keyId}`);
	}
	else {
		for (const candidate of keys) {
			const verified = verifies(verify, envelope.signature, envelope.signed, candidate);
			if (typeof verified === "string")
				return reject("bad-signature", verified);
			if (verified) {
				key = candidate;
				break;
			}
		}
		if (!key)
			return reject("bad-signature", "no trusted key verifies this XFM1 manifest (its key id is inside the body, which is read only once a key verifies)");
	}
	const text = decodeUtf8(envelope.body);
	if (text === undefined)
		return reject("malformed", "the body is not valid UTF-8");
	const refused = unparsable(text);
	if (refused)
		return reject(refused.reason, refused.detail);
	let fields: unknown;
	try {
		fields = JSON.parse(text);
	}
	catch {
		return reject("malformed", "the body is not valid JSON");
	}
	if (!isObject(fields))
		return reject("malformed", "the body is not a JSON object");
	try {
		const manifest = validate(fields);
		if (manifest.keyId !== key.keyId) // XFM2: two ids in one manifest; XFM1: the config names this key otherwise
			return envelope.version === 2
				? reject("malformed", `the body names key ${manifest.keyId}, the header key ${key.keyId}`)
				: reject("unknown-key", `the body names key ${manifest.keyId}, which no trusted key has; the signature is by key ${key.keyId}`);
		return { ok: true, manifest };
	}
	catch (error) {
		if (error instanceof Rejection)
			return reject(error.reason, error.detail);
		throw error;
	}
}
