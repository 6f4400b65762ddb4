// The signed-manifest parser inside XS, with the native Ed25519 verify: the same module the Node tests
// exercise, on the engine the device runs; plus a smaller seeded fuzz run.
import { verify } from "crypto/ed25519";
import { openSignedManifest, compareSemver, MAX_MANIFEST_BYTES, type OpenResult } from "fota/manifest";
import { frameBody, frameBody2, joinEnvelope } from "fota/envelope";
import { test } from "./lib/harness.js";
import { fromHex, flipBit, Random } from "./lib/bytes.js";
import { FIXTURE_KEY_ID, FIXTURE_PUBLIC_KEY, SIGNED } from "./lib/manifest-fixtures.js";

const keys = [{ keyId: FIXTURE_KEY_ID, publicKey: fromHex(FIXTURE_PUBLIC_KEY) }];
const sim = fromHex(SIGNED.sim!.envelope);
const esp32 = fromHex(SIGNED.esp32WithExpiry!.envelope);

function open(bytes: Uint8Array): OpenResult {
	return openSignedManifest(bytes, keys, verify);
}

function reason(result: OpenResult): string {
	return result.ok ? "ok" : result.reason;
}

test("valid manifests open in XS with the native verify", (t) => {
	const a = open(sim), b = open(esp32);
	t.true(a.ok && b.ok);
	if (a.ok && b.ok) {
		t.deepEqual(JSON.parse(JSON.stringify(a.manifest)), JSON.parse(SIGNED.sim!.body));
		t.is(b.manifest.expires, 1893456000);
		t.is(b.manifest.image.url, "https://updates.example.com/devkit/2.2.0-rc.1.bin");
	}
});

test("issue 9, defect 8, in XS: integers that are not canonical decimal integers in the signed text are wrong-type", (t) => {
	for (const name of ["fractionSequence", "exponentSequence", "underflowSecurityVersion", "minusZeroSecurityVersion", "roundedSequence"]) {
		const result = open(fromHex(SIGNED[name]!.envelope));
		t.is(reason(result), "wrong-type", name);
		t.true(!result.ok && /canonical decimal integers/.test(result.detail), name);
	}
});

// Issue 9, defect 1, in XS: before this, 3,900 unclosed [ in a valid envelope exhausted the stack and XS aborted.
test("in XS, a body of 3,900 [ with an all-zero signature is bad-signature in XFM2 and XFM1, and the machine lives on", (t) => {
	const deep = new Uint8Array(3900).fill(0x5b);
	const zero = new Uint8Array(64);
	t.is(reason(open(joinEnvelope(frameBody2(FIXTURE_KEY_ID, deep), zero))), "bad-signature");
	t.is(reason(open(joinEnvelope(frameBody(deep), zero))), "bad-signature");
});

test("in XS, the XFM2 envelope opens with the key its header names", (t) => {
	const result = open(fromHex(SIGNED.simXfm2!.envelope));
	t.true(result.ok);
	if (result.ok)
		t.is(result.manifest.sequence, 1004);
	t.is(reason(openSignedManifest(fromHex(SIGNED.simXfm2!.envelope), [{ keyId: "0000000000000000", publicKey: keys[0]!.publicKey }], verify)), "unknown-key");
});

test("reasons in XS: oversized, malformed, unknown-key, bad-signature, and field errors after the signature", (t) => {
	t.is(reason(open(new Uint8Array(MAX_MANIFEST_BYTES + 1))), "oversized");
	t.is(reason(open(sim.subarray(0, 40))), "malformed");
	t.is(reason(openSignedManifest(sim, [{ keyId: "0000000000000000", publicKey: keys[0]!.publicKey }], verify)), "unknown-key");
	t.is(reason(open(flipBit(sim, (sim.length - 1) * 8))), "bad-signature");
	t.is(reason(open(fromHex(SIGNED.zeroSize!.envelope))), "wrong-type");
	// The right key id but another key: the signature decides.
	t.is(reason(openSignedManifest(sim, [{ keyId: FIXTURE_KEY_ID, publicKey: new Uint8Array(32).fill(9) }], verify)), "bad-signature");
});

test("every single-bit flip of a signed manifest is rejected", (t) => {
	let rejected = 0;
	for (let bit = 0; bit < sim.length * 8; bit++) {
		const result = open(flipBit(sim, bit));
		if (result.ok)
			t.fail(`bit ${bit} flipped and still accepted`);
		rejected++;
	}
	t.is(rejected, sim.length * 8);
});

test("seeded fuzz in XS: 3,000 mutations, no exception, nothing unsigned accepted", (t) => {
	const random = new Random(1234);
	let reachedSignature = 0;
	for (let i = 0; i < 3000; i++) {
		let bytes = (i & 1 ? esp32 : sim).slice();
		const edits = 1 + random.below(3);
		for (let k = 0; k < edits; k++) {
			const at = random.below(bytes.length);
			if (random.below(4) === 0)
				bytes = bytes.slice(0, at);
			else
				bytes[at] = random.below(256);
		}
		const original = i & 1 ? esp32 : sim;
		const same = bytes.length === original.length && bytes.every((byte, j) => byte === original[j]);
		const result = open(bytes);
		if (result.ok !== same)
			t.fail(`mutation ${i}: ok=${result.ok} but same=${same}`);
		if (!result.ok && result.reason === "bad-signature")
			reachedSignature++;
	}
	t.true(reachedSignature > 100, `${reachedSignature} mutations reached the signature check`);
});

test("compareSemver in XS", (t) => {
	t.is(compareSemver("1.0.0-rc.1", "1.0.0"), -1);
	t.is(compareSemver("1.0.0-alpha.10", "1.0.0-alpha.9"), 1);
	t.is(compareSemver("2.0.0+meta", "2.0.0"), 0);
	t.throws(() => compareSemver("1.0", "1.0.0"), { instanceOf: TypeError });
});
