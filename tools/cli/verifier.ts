// Ed25519 verification in Node for openSignedManifest, as strict as the device's libsodium: OpenSSL accepts a
// small-order public key (in any encoding), under which a forged signature can verify for any message.
import { createPublicKey, verify, type KeyObject } from "node:crypto";

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex"); // DER SubjectPublicKeyInfo for a raw Ed25519 key
// libsodium's crypto_sign_verify_detached (its default, strict rules), which the device runs, refuses:
//  - a public key or an R whose y, with the sign bit cleared, is one of the blocklisted small-order values
//    (ge25519_has_small_order: 0, 1, the two order-8 y's, p - 1, and the non-canonical p and p + 1), so that the
//    non-canonical encodings of those points (e.g. 0100...80) are refused too;
//  - a public key whose y is not canonical (y >= p: ge25519_is_canonical);
//  - an S that is not below the group order L (sc25519_is_canonical).
const BLOCKLIST = [
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];
const P = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function littleEndian(bytes: Uint8Array): bigint {
	let value = 0n;
	for (let i = bytes.length - 1; i >= 0; i--)
		value = (value << 8n) | BigInt(bytes[i]!);
	return value;
}

/** True for every encoding of a point of small order, canonical or not, as libsodium's blocklist has them. */
export function isSmallOrder(point: Uint8Array): boolean {
	const masked = Buffer.from(point);
	masked[31]! &= 0x7f;
	return BLOCKLIST.includes(masked.toString("hex"));
}

/** True when y (the sign bit cleared) is below p. */
export function isCanonicalPoint(point: Uint8Array): boolean {
	return littleEndian(Buffer.from(point).map((byte, i) => (i === 31 ? byte & 0x7f : byte))) < P;
}

const cache = new Map<string, KeyObject>();

function keyObject(publicKey: Uint8Array): KeyObject {
	const hex = Buffer.from(publicKey).toString("hex");
	let key = cache.get(hex);
	if (!key) {
		key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
		cache.set(hex, key);
	}
	return key;
}

/** The Verify function for Node: node:crypto's Ed25519 behind libsodium's checks, so the CLI accepts exactly what a device accepts. */
export function nodeVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
	if (signature.length !== 64 || publicKey.length !== 32 || isSmallOrder(publicKey) || !isCanonicalPoint(publicKey)
			|| isSmallOrder(signature.subarray(0, 32)) || littleEndian(signature.subarray(32)) >= L)
		return false;
	try {
		return verify(null, message, keyObject(publicKey), signature);
	}
	catch {
		return false; // not a point on the curve
	}
}
