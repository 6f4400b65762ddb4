// The first native module: streaming SHA-256 over libsodium, called with a Uint8Array from XS.
import SHA256 from "crypto/sha256";
import TextEncoder from "text/encoder";
import { test } from "./lib/harness.js";

function hex(buffer: ArrayBuffer): string {
	return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

test("SHA-256 of the empty string and of 'abc' (FIPS 180-2 vectors)", (t) => {
	t.is(hex(SHA256.hash(new Uint8Array(0))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	t.is(hex(SHA256.hash(new TextEncoder().encode("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("streaming in pieces equals hashing at once; ArrayBuffer, Uint8Array and DataView are accepted", (t) => {
	const data = new Uint8Array(1000).map((_, i) => (i * 31) & 0xff);
	const whole = hex(SHA256.hash(data));
	const sha = new SHA256();
	sha.update(data.subarray(0, 1)).update(data.buffer.slice(1, 500)).update(new DataView(data.buffer, 500));
	t.is(hex(sha.digest()), whole);
});

test("digest ends the hash until reset", (t) => {
	const sha = new SHA256();
	sha.digest();
	t.throws(() => sha.update(new Uint8Array(1)), { instanceOf: TypeError, message: /after digest/ });
	t.throws(() => sha.digest(), { instanceOf: TypeError });
	t.is(hex(sha.reset().digest()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("bad arguments throw a TypeError instead of crashing the host", (t) => {
	const sha = new SHA256();
	t.throws(() => sha.update("abc" as never), { instanceOf: TypeError });
	t.throws(() => sha.update(undefined as never), { instanceOf: TypeError });
	t.throws(() => sha.update(new Uint16Array(4) as never), { instanceOf: TypeError });
	t.throws(() => native("xs_sha256_update").call({}, new Uint8Array(1)), { instanceOf: Error });
});

test("instances are host objects that survive garbage collection", (t) => {
	for (let i = 0; i < 2000; i++)
		new SHA256().update(new Uint8Array(64));
	t.true(new SHA256() instanceof SHA256);
});
