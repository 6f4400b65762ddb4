// Ed25519 verification in the native module (libsodium), inside XS: RFC 8032 vectors, every single-bit
// flip, non-canonical S, small-order keys and R, and bad arguments.
import { verify } from "crypto/ed25519";
import { test } from "./lib/harness.js";
import { RFC8032 } from "./lib/rfc8032.js";
import { SMALL_ORDER_POINTS } from "./lib/small-order.js";
import { fromHex, flipBit } from "./lib/bytes.js";

const L = (1n << 252n) + 27742317777372353535851937790883648493n; // the order of the base point

function scalarFromBytes(bytes: Uint8Array): bigint {
	let value = 0n;
	for (let i = bytes.length - 1; i >= 0; i--)
		value = (value << 8n) | BigInt(bytes[i]!);
	return value;
}

function scalarToBytes(value: bigint): Uint8Array {
	const out = new Uint8Array(32);
	for (let i = 0; i < 32; i++, value >>= 8n)
		out[i] = Number(value & 0xffn);
	return out;
}

const vectors = RFC8032.map((vector) => ({
	name: vector.name,
	publicKey: fromHex(vector.publicKey),
	message: fromHex(vector.message),
	signature: fromHex(vector.signature),
}));

test("the RFC 8032 section 7.1 vectors verify", (t) => {
	for (const { name, publicKey, message, signature } of vectors)
		t.true(verify(signature, message, publicKey), name);
});

test("every single-bit flip of a signature is rejected", (t) => {
	for (const { name, publicKey, message, signature } of vectors)
		for (let bit = 0; bit < signature.length * 8; bit++)
			t.false(verify(flipBit(signature, bit), message, publicKey), `${name}: signature bit ${bit}`);
});

test("every single-bit flip of a message is rejected", (t) => {
	for (const { name, publicKey, message, signature } of vectors)
		for (let bit = 0; bit < message.length * 8; bit++)
			t.false(verify(signature, flipBit(message, bit), publicKey), `${name}: message bit ${bit}`);
});

test("every single-bit flip of a public key is rejected", (t) => {
	for (const { name, publicKey, message, signature } of vectors)
		for (let bit = 0; bit < publicKey.length * 8; bit++)
			t.false(verify(signature, message, flipBit(publicKey, bit)), `${name}: public key bit ${bit}`);
});

test("a non-canonical S (S + L, and S = L) is rejected although it satisfies the group equation", (t) => {
	for (const { name, publicKey, message, signature } of vectors) {
		const S = scalarFromBytes(signature.subarray(32));
		t.true(S < L, `${name}: the original S is canonical`);
		for (const wrong of [S + L, L]) {
			const forged = signature.slice();
			forged.set(scalarToBytes(wrong), 32);
			t.false(verify(forged, message, publicKey), `${name}: S = ${wrong === L ? "L" : "S + L"}`);
		}
	}
});

test("small-order public keys are rejected, including the identity key that lax verifiers accept for any message", (t) => {
	const message = new Uint8Array([0x68, 0x65, 0x6c, 0x6c, 0x6f]);
	for (const hex of SMALL_ORDER_POINTS) {
		const key = fromHex(hex);
		for (const r of SMALL_ORDER_POINTS) {
			// R small-order, S = 0: [S]B = R + [h]A holds whenever [h]A = -R, e.g. always for A = R = identity.
			const signature = new Uint8Array(64);
			signature.set(fromHex(r), 0);
			t.false(verify(signature, message, key), `key ${hex.slice(0, 8)}, R ${r.slice(0, 8)}`);
		}
	}
});

test("a small-order R under a valid key is rejected", (t) => {
	const { publicKey, message } = vectors[1]!;
	for (const hex of SMALL_ORDER_POINTS) {
		const signature = new Uint8Array(64);
		signature.set(fromHex(hex), 0);
		t.false(verify(signature, message, publicKey), hex);
	}
});

test("ArrayBuffer, DataView and offset views are read at the right bytes", (t) => {
	const { publicKey, message, signature } = vectors[2]!;
	const padded = new Uint8Array(7 + message.length);
	padded.set(message, 7);
	t.true(verify(signature, padded.subarray(7), publicKey));
	t.true(verify(signature.slice().buffer, new DataView(message.slice().buffer), publicKey.slice().buffer));
	t.false(verify(signature, padded.subarray(6, 6 + message.length), publicKey));
});

test("bad arguments throw a TypeError or RangeError and never crash the host", (t) => {
	const { publicKey, message, signature } = vectors[1]!;
	t.throws(() => verify(signature.subarray(1), message, publicKey), { instanceOf: RangeError, message: /signature must be 64 bytes, not 63/ });
	t.throws(() => verify(signature, message, new Uint8Array(33)), { instanceOf: RangeError, message: /publicKey must be 32 bytes, not 33/ });
	t.throws(() => verify("sig" as never, message, publicKey), { instanceOf: TypeError, message: /signature must be an ArrayBuffer/ });
	t.throws(() => verify(signature, [1, 2] as never, publicKey), { instanceOf: TypeError, message: /message must be/ });
	t.throws(() => verify(signature, message, new Uint16Array(16) as never), { instanceOf: TypeError });
	t.throws(() => verify(signature, message, null as never), { instanceOf: TypeError });
	// The native itself checks too, for callers that bypass the TypeScript surface.
	const raw = native("xs_ed25519_verify");
	t.throws(() => raw(signature, message), { instanceOf: TypeError, message: /expects/ });
	t.throws(() => raw(signature.subarray(2), message, publicKey), { instanceOf: RangeError, message: /signature must be 64 bytes/ });
	t.throws(() => raw(signature, message, publicKey.subarray(1)), { instanceOf: RangeError, message: /publicKey must be 32 bytes/ });
	t.throws(() => raw(signature, "text", publicKey), { instanceOf: TypeError });
	t.throws(() => raw(signature, message, new Float64Array(4)), { instanceOf: TypeError });
	t.throws(() => raw({}, message, publicKey), { instanceOf: TypeError });
	t.true(raw(signature, message, publicKey));
});
