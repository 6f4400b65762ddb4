// Differential tests of the native crypto in the sim host against node:crypto: Ed25519 over 2,048 random
// keys and messages (and a random mutation of each), and streaming SHA-256 of 0 B to 1 MiB in random chunks.
import test from "ava";
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Random } from "../xs/lib/bytes.js";
import { nodeVerify } from "../../tools/cli/verifier.js";
import { BUILD_JS } from "./lib/paths.js";
import { runHost } from "./lib/run-host.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
/** RFC 8410: an Ed25519 private key's PKCS #8 DER is this prefix and the 32-byte seed; its SPKI DER, 12 bytes and the key */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const ED25519_SPKI_PREFIX_BYTES = 12;

function entry(name: string, source: string): string {
	const path = join(mkdtempSync(join(tmpdir(), "xs-fota-diff-")), name);
	writeFileSync(path, source);
	return path;
}

test("Ed25519: 2,048 node:crypto signatures verify natively in XS, and every mutation is rejected by both", (t) => {
	const random = new Random(0xed25519);
	const cases: [string, string, string][] = [];
	const expected: string[] = [];
	for (let i = 0; i < 2048; i++) {
		// the key from a random seed (RFC 8410's PKCS #8 and SPKI forms), not generateKeyPairSync: with 2,048 of them,
		// Node 20 deadlocked here once (a collection inside publicKey.export({ format: "jwk" }), under the key's lock,
		// ran a key generation job's destructor, which waits for the same lock: gdb showed the main thread in
		// KeyGenJob::~KeyGenJob from ExportJWKEdKey), and the test hung the whole run
		const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, random.fill(new Uint8Array(32))]), format: "der", type: "pkcs8" });
		const raw = new Uint8Array(createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(ED25519_SPKI_PREFIX_BYTES));
		const message = random.fill(new Uint8Array(random.below(160)));
		const signature = new Uint8Array(sign(null, message, privateKey));
		cases.push([hex(signature), hex(message), hex(raw)]);
		expected.push(nodeVerify(signature, message, raw) ? "1" : "0");
		// One mutation: a bit flip or a byte overwrite in the signature, the message or the key.
		const parts = [signature.slice(), message.slice(), raw.slice()];
		let which = random.below(3);
		if (parts[which]!.length === 0)
			which = 0;
		const target = parts[which]!, at = random.below(target.length);
		target[at] = random.below(2) ? target[at]! ^ (1 << random.below(8)) : (target[at]! + 1 + random.below(255)) & 0xff;
		cases.push([hex(parts[0]!), hex(parts[1]!), hex(parts[2]!)]);
		expected.push(nodeVerify(parts[0]!, parts[1]!, parts[2]!) ? "1" : "0");
	}
	const path = entry("ed25519-diff.js", `import { verify } from "crypto/ed25519";
const cases = ${JSON.stringify(cases)};
// XS keeps strings in UTF-8, so charCodeAt(i) walks from the start; iterate instead.
const NIBBLE = { "0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9, a: 10, b: 11, c: 12, d: 13, e: 14, f: 15 };
function bytes(hex) {
	const out = new Uint8Array(hex.length >> 1);
	let i = 0, high = -1;
	for (const ch of hex) {
		if (high < 0) high = NIBBLE[ch];
		else { out[i++] = (high << 4) | NIBBLE[ch]; high = -1; }
	}
	return out;
}
let out = "";
for (const [s, m, k] of cases) out += verify(bytes(s), bytes(m), bytes(k)) ? "1" : "0";
trace(out + "\\n");
`);
	const run = runHost(path);
	t.is(run.status, 0, run.stderr);
	const native = run.stdout.trim();
	t.is(native.length, cases.length);
	const mismatches = [...native].flatMap((bit, i) => (bit === expected[i] ? [] : [i]));
	t.deepEqual(mismatches, [], `native and node:crypto disagree on cases ${mismatches.slice(0, 10).join(", ")}`);
	t.is(expected.filter((bit, i) => i % 2 === 0 && bit === "1").length, 2048, "all originals verify");
	t.is(expected.filter((bit, i) => i % 2 === 1 && bit === "1").length, 0, "no mutation verifies");
});

test("SHA-256: streaming in random chunks in XS equals node:crypto for sizes 0 to 1 MiB", (t) => {
	const pick = new Random(0x5a256);
	const sizes = [0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 4095, 4096, 4097, 65535, 65536, 65537, 1048575, 1048576];
	for (let i = 0; i < 8; i++)
		sizes.push(pick.below(1048577));
	const path = entry("sha256-stream.js", `import SHA256 from "crypto/sha256";
import { Random, toHex } from ${JSON.stringify(join(BUILD_JS, "test/xs/lib/bytes.js"))};
const sizes = ${JSON.stringify(sizes)};
let out = "";
for (const size of sizes) {
	const data = new Random(size + 1).fill(new Uint8Array(size));
	const split = new Random(size * 7 + 3);
	const sha = new SHA256();
	for (let at = 0; at <= size;) {
		const length = Math.min(size - at, split.below(4) === 0 ? 0 : split.below(split.below(2) ? 70 : 70000));
		const chunk = data.subarray(at, at + length);
		const kind = split.below(3);
		sha.update(kind === 0 ? chunk : kind === 1 ? chunk.slice().buffer : new DataView(data.buffer, at, length));
		at += length;
		if (at === size && split.below(2)) break;
	}
	out += size + " " + toHex(sha.digest()) + "\\n";
}
trace(out);
`);
	const run = runHost(path);
	t.is(run.status, 0, run.stderr);
	const lines = run.stdout.trim().split("\n");
	t.is(lines.length, sizes.length);
	for (const [i, size] of sizes.entries()) {
		const data = new Random(size + 1).fill(new Uint8Array(size));
		t.is(lines[i], `${size} ${createHash("sha256").update(data).digest("hex")}`, `size ${size}`);
	}
});
