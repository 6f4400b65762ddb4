// The signed manifest's envelope (docs/format.md):
//   "XFM1" | body length (u16, big-endian) | body (UTF-8 JSON) | Ed25519 signature over everything before it
export const MAX_MANIFEST_BYTES = 4096;
export const MAGIC = [0x58, 0x46, 0x4d, 0x31]; // "XFM1"
export const HEADER_BYTES = 6;
export const SIGNATURE_BYTES = 64;
export const MAX_BODY_BYTES = MAX_MANIFEST_BYTES - HEADER_BYTES - SIGNATURE_BYTES; // 4026

export type EnvelopeReason = "oversized" | "malformed" | "unknown-format";

export type Envelope =
	| { ok: true; signed: Uint8Array; body: Uint8Array; signature: Uint8Array }
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
	if (bytes[3] !== MAGIC[3])
		return { ok: false, reason: "unknown-format", detail: `envelope version byte 0x${bytes[3]!.toString(16)}; this device reads XFM1` };
	const bodyLength = (bytes[4]! << 8) | bytes[5]!;
	const end = HEADER_BYTES + bodyLength;
	if (bodyLength === 0 || end + SIGNATURE_BYTES !== bytes.length)
		return { ok: false, reason: "malformed", detail: `body length ${bodyLength} does not fit an envelope of ${bytes.length} bytes` };
	return { ok: true, signed: bytes.subarray(0, end), body: bytes.subarray(HEADER_BYTES, end), signature: bytes.subarray(end) };
}

/** The bytes to sign for `body`: the magic, the length and the body. Append the 64-byte signature to finish. */
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
