// Runs inside the sim host (bench/crypto.bench.ts starts it with a bench-only module map that adds noble):
// native Ed25519 verify and SHA-256 against the pure-JS @noble libraries, on the same engine in one run.
import { verify } from "crypto/ed25519";
import SHA256 from "crypto/sha256";
import * as ed from "@noble/ed25519";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

ed.hashes.sha512 = sha512;

function msPerOp(count: number, fn: () => unknown): number {
	fn(); // warm up
	const start = Date.now();
	for (let i = 0; i < count; i++)
		fn();
	return (Date.now() - start) / count;
}

const secret = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
const publicKey = ed.getPublicKey(secret);
const message = new Uint8Array(300).map((_, i) => (i * 13) & 0xff);
const signature = ed.sign(message, secret);
if (!verify(signature, message, publicKey) || !ed.verify(signature, message, publicKey))
	throw new Error("the benchmark's signature does not verify");

const mebibyte = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
const nativeDigest = new Uint8Array(SHA256.hash(mebibyte));
const jsDigest = sha256(mebibyte);
if (!nativeDigest.every((byte, i) => byte === jsDigest[i]))
	throw new Error("native and JS SHA-256 disagree");

const figures = {
	ed25519_verify_native_ms: msPerOp(2000, () => verify(signature, message, publicKey)),
	ed25519_verify_js_ms: msPerOp(20, () => ed.verify(signature, message, publicKey)),
	sha256_1mib_native_ms: msPerOp(30, () => SHA256.hash(mebibyte)),
	sha256_1mib_js_ms: msPerOp(2, () => sha256(mebibyte)),
};
trace(JSON.stringify(figures) + "\n");
