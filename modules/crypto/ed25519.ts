// Ed25519 detached-signature verification in native code (native/ed25519.c, libsodium).
export type Bytes = ArrayBuffer | Uint8Array | DataView;

export const SIGNATURE_BYTES = 64;
export const PUBLIC_KEY_BYTES = 32;

function length(value: unknown, name: string): number {
	if (value instanceof Uint8Array || value instanceof ArrayBuffer || value instanceof DataView)
		return value.byteLength;
	throw new TypeError(`ed25519.verify: ${name} must be an ArrayBuffer, Uint8Array or DataView`);
}

function check(value: unknown, name: string, bytes: number): void {
	const actual = length(value, name);
	if (actual !== bytes)
		throw new RangeError(`ed25519.verify: ${name} must be ${bytes} bytes, not ${actual}`);
}

/**
 * True when `signature` is a valid Ed25519 signature of `message` by `publicKey`, under libsodium's strict
 * rules (canonical S, no small-order key or R). Throws a TypeError or RangeError for arguments of the wrong
 * type or length; a well-formed but wrong signature is simply false.
 */
export function verify(signature: Bytes, message: Bytes, publicKey: Bytes): boolean {
	check(signature, "signature", SIGNATURE_BYTES);
	length(message, "message");
	check(publicKey, "publicKey", PUBLIC_KEY_BYTES);
	return native("xs_ed25519_verify")(signature, message, publicKey);
}
