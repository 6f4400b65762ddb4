// Ed25519 verification in Node for openSignedManifest, as strict about keys as the device's libsodium:
// OpenSSL accepts a small-order public key, under which a forged signature can verify for any message.
import { createPublicKey, verify, type KeyObject } from "node:crypto";

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex"); // DER SubjectPublicKeyInfo for a raw Ed25519 key
const SMALL_ORDER = new Set([
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
]);

/** True for the canonical encodings of the 8 points of small order. */
export function isSmallOrder(publicKey: Uint8Array): boolean {
	return SMALL_ORDER.has(Buffer.from(publicKey).toString("hex"));
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

/** The Verify function for Node: node:crypto's Ed25519, with small-order keys and R rejected. */
export function nodeVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
	if (signature.length !== 64 || publicKey.length !== 32 || isSmallOrder(publicKey) || isSmallOrder(signature.subarray(0, 32)))
		return false;
	try {
		return verify(null, message, keyObject(publicKey), signature);
	}
	catch {
		return false; // not a point on the curve
	}
}
