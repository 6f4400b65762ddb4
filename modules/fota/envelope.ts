// The signed manifest's envelope (docs/format.md), in two versions:
//   XFM2: "XFM2" | key id (8 bytes) | body length (u16, big-endian) | body (UTF-8 JSON) | Ed25519 signature over
//         everything before it. The key id is in the binary header, inside the signed bytes, so that the device
//         chooses the key and verifies the signature before it reads a byte of the body.
//   XFM1: "XFM1" | body length (u16, big-endian) | body | signature. Its key id is only inside the body; a device
//         reads it by verifying with each trusted key in turn, still before it parses anything.
//   XFC1: a signed config document (docs/format.md, "Config documents"): the layout of XFM2 under its own magic, so
//         that no manifest is ever read as a config document or the other way round, and bounded by
//         MAX_CONFIG_DOC_BYTES (it carries a CA certificate).
import { fromHex, toHex } from "./hex.js";

export const MAX_MANIFEST_BYTES = 4096;
export const MAGIC = [0x58, 0x46, 0x4d, 0x31]; // "XFM1"
export const MAGIC2 = [0x58, 0x46, 0x4d, 0x32]; // "XFM2"
export const HEADER_BYTES = 6;
export const HEADER2_BYTES = 14;
export const KEY_ID_BYTES = 8;
export const SIGNATURE_BYTES = 64;
export const MAX_BODY_BYTES = MAX_MANIFEST_BYTES - HEADER2_BYTES - SIGNATURE_BYTES; // 4018, for both versions

export const CONFIG_MAGIC = [0x58, 0x46, 0x43, 0x31]; // "XFC1"
export const MAX_CONFIG_DOC_BYTES = 8192;
export const MAX_CONFIG_BODY_BYTES = MAX_CONFIG_DOC_BYTES - HEADER2_BYTES - SIGNATURE_BYTES;

export type EnvelopeReason = "oversized" | "malformed" | "unknown-format";

export type Envelope =
	/** keyId: the header's, as 16 lower-case hex digits (XFM2); undefined for XFM1 */
	| { ok: true; version: 1 | 2; keyId?: string; signed: Uint8Array; body: Uint8Array; signature: Uint8Array }
	| { ok: false; reason: EnvelopeReason; detail: string };

/** Splits an envelope into the signed bytes (header and body), the body and the signature. Views, no copies. */
export function splitEnvelope(bytes: Uint8Array): Envelope {
	if (!(bytes instanceof Uint8Array))
		return { ok: false, reason: "malformed", detail: "the manifest must be a Uint8Array" };
	if (bytes.length > MAX_MANIFEST_BYTES)
		return { ok: false, reason: "oversized", detail: `${bytes.length} bytes; at most ${MAX_MANIFEST_BYTES}` };
	if (bytes.length < HEADER_BYTES + 1 + SIGNATURE_BYTES)
		return { ok: false, reason: "malformed", detail: `${bytes.length} bytes is too short for an envelope` };
	if (bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2])
		return { ok: false, reason: "malformed", detail: "no XFM magic" };
	if (bytes[3] !== MAGIC[3] && bytes[3] !== MAGIC2[3])
		return { ok: false, reason: "unknown-format", detail: `envelope version byte 0x${bytes[3]!.toString(16)}; this device reads XFM1 and XFM2` };
	const version = bytes[3] === MAGIC2[3] ? 2 : 1;
	const header = version === 2 ? HEADER2_BYTES : HEADER_BYTES;
	const bodyLength = (bytes[header - 2]! << 8) | bytes[header - 1]!;
	const end = header + bodyLength;
	if (bodyLength === 0 || end + SIGNATURE_BYTES !== bytes.length)
		return { ok: false, reason: "malformed", detail: `body length ${bodyLength} does not fit an envelope of ${bytes.length} bytes` };
	return {
		ok: true, version, ...(version === 2 ? { keyId: toHex(bytes.subarray(4, 4 + KEY_ID_BYTES)) } : {}),
		signed: bytes.subarray(0, end), body: bytes.subarray(header, end), signature: bytes.subarray(end),
	};
}

/** Splits an XFC1 config document into its key id, the signed bytes, the body and the signature. Views, no copies. */
export function splitConfigEnvelope(bytes: Uint8Array): Envelope {
	if (!(bytes instanceof Uint8Array))
		return { ok: false, reason: "malformed", detail: "the config document must be a Uint8Array" };
	if (bytes.length > MAX_CONFIG_DOC_BYTES)
		return { ok: false, reason: "oversized", detail: `${bytes.length} bytes; at most ${MAX_CONFIG_DOC_BYTES}` };
	if (bytes.length < HEADER2_BYTES + 1 + SIGNATURE_BYTES)
		return { ok: false, reason: "malformed", detail: `${bytes.length} bytes is too short for a config document` };
	for (let i = 0; i < CONFIG_MAGIC.length; i++)
		if (bytes[i] !== CONFIG_MAGIC[i])
			return { ok: false, reason: i < 3 ? "malformed" : "unknown-format", detail: i < 3 ? "no XFC magic" : `config envelope version byte 0x${bytes[3]!.toString(16)}; this device reads XFC1` };
	const bodyLength = (bytes[HEADER2_BYTES - 2]! << 8) | bytes[HEADER2_BYTES - 1]!;
	const end = HEADER2_BYTES + bodyLength;
	if (bodyLength === 0 || end + SIGNATURE_BYTES !== bytes.length)
		return { ok: false, reason: "malformed", detail: `body length ${bodyLength} does not fit a config document of ${bytes.length} bytes` };
	return { ok: true, version: 2, keyId: toHex(bytes.subarray(4, 4 + KEY_ID_BYTES)), signed: bytes.subarray(0, end), body: bytes.subarray(HEADER2_BYTES, end), signature: bytes.subarray(end) };
}

/** The XFM2 bytes to sign for `body` under the key `keyId` (16 hex digits). Append the 64-byte signature to finish. */
export function frameBody2(keyId: string, body: Uint8Array): Uint8Array {
	return frameKeyed(MAGIC2, keyId, body, MAX_BODY_BYTES, "manifest");
}

/** The XFC1 bytes to sign for a config document's `body` under the config key `keyId`. */
export function frameConfigBody(keyId: string, body: Uint8Array): Uint8Array {
	return frameKeyed(CONFIG_MAGIC, keyId, body, MAX_CONFIG_BODY_BYTES, "config document");
}

function frameKeyed(magic: number[], keyId: string, body: Uint8Array, max: number, what: string): Uint8Array {
	if (!/^[0-9a-f]{16}$/.test(keyId))
		throw new RangeError(`key id ${keyId} is not 16 lower-case hex digits`);
	if (body.length === 0 || body.length > max)
		throw new RangeError(`${what} body is ${body.length} bytes; it must be 1 to ${max}`);
	const out = new Uint8Array(HEADER2_BYTES + body.length);
	out.set(magic, 0);
	out.set(fromHex(keyId)!, 4);
	out[12] = body.length >> 8;
	out[13] = body.length & 0xff;
	out.set(body, HEADER2_BYTES);
	return out;
}

/** The XFM1 bytes to sign for `body`: for fleets whose firmware predates XFM2 (docs/format.md, "Moving a fleet"). */
export function frameBody(body: Uint8Array): Uint8Array {
	if (body.length === 0 || body.length > MAX_BODY_BYTES)
		throw new RangeError(`manifest body is ${body.length} bytes; it must be 1 to ${MAX_BODY_BYTES}`);
	const out = new Uint8Array(HEADER_BYTES + body.length);
	out.set(MAGIC, 0);
	out[4] = body.length >> 8;
	out[5] = body.length & 0xff;
	out.set(body, HEADER_BYTES);
	return out;
}

/** The whole envelope: the framed body followed by its signature. */
export function joinEnvelope(framed: Uint8Array, signature: Uint8Array): Uint8Array {
	if (signature.length !== SIGNATURE_BYTES)
		throw new RangeError(`signature is ${signature.length} bytes; it must be ${SIGNATURE_BYTES}`);
	const out = new Uint8Array(framed.length + SIGNATURE_BYTES);
	out.set(framed, 0);
	out.set(signature, framed.length);
	return out;
}
