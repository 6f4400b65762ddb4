// Seeded fuzzing of the manifest parser in Node: 100,000 mutated envelopes, and mutated bodies that are
// then properly signed. Nothing may throw, and nothing the signature does not cover may be accepted.
import test from "ava";
import { openSignedManifest, type UpdateManifest } from "../../modules/fota/manifest.js";
import { nodeVerify } from "../../tools/cli/verifier.js";
import { Random } from "../xs/lib/bytes.js";
import { keyFromNumber, sampleManifest, seal } from "./lib/signing.js";
import { equalBytes, mutate } from "./lib/mutate.js";

const key = keyFromNumber(7);
const keys = [keyFromNumber(8), key];

test("100,000 mutated signed manifests: no crash, and only the exact signed bytes are accepted", (t) => {
	const originals = [
		seal(sampleManifest(key), key),
		seal(sampleManifest(key, { expires: 1900000000, version: "2.0.0-rc.1+build.7" }), key),
		seal(sampleManifest(key, { image: { size: 7, sha256: "0".repeat(64), url: "https://u.example/x", kind: "sim" } }), key),
	];
	const random = new Random(0xf07a);
	const reasons: Record<string, number> = {};
	let accepted = 0;
	for (let i = 0; i < 100_000; i++) {
		const original = originals[i % originals.length]!;
		const bytes = mutate(original, random);
		if (i % 2 && bytes.length > 78 && bytes.length <= 4096) {
			// Half the time, repair the XFM2 framing and key id as an attacker would, so that the mutation reaches the signature.
			bytes.set([0x58, 0x46, 0x4d, 0x32], 0);
			bytes.set(original.subarray(4, 12), 4);
			bytes[12] = (bytes.length - 78) >> 8;
			bytes[13] = (bytes.length - 78) & 0xff;
		}
		const result = openSignedManifest(bytes, keys, nodeVerify);
		if (result.ok) {
			accepted++;
			if (!equalBytes(bytes, original))
				return t.fail(`accepted a mutation the signature does not cover: ${Buffer.from(bytes).toString("hex")}`);
		}
		else {
			reasons[result.reason] = (reasons[result.reason] ?? 0) + 1;
			if (typeof result.detail !== "string" || result.detail.length === 0)
				return t.fail(`no detail for ${result.reason}`);
		}
	}
	t.log(`reasons: ${JSON.stringify(reasons)}; accepted (unchanged) ${accepted}`);
	t.true((reasons["bad-signature"] ?? 0) > 15_000, "many mutations reach the signature check");
	t.true((reasons.malformed ?? 0) > 10_000, "many break the envelope");
});

/** An independent statement of the rules, to check whatever the parser accepts. */
function plausible(manifest: UpdateManifest): boolean {
	const { image } = manifest;
	return manifest.format === 1 && manifest.keyId === key.keyId && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(manifest.product) &&
		Number.isSafeInteger(manifest.sequence) && manifest.sequence >= 0 &&
		Number.isInteger(manifest.securityVersion) && manifest.securityVersion >= 0 && manifest.securityVersion <= 0xffffffff &&
		Number.isInteger(image.size) && image.size >= 1 && image.size <= 0xffffffff && /^[0-9a-f]{64}$/.test(image.sha256) &&
		typeof image.kind === "string" && /^[a-z0-9]{1,8}$/.test(image.kind) && typeof image.url === "string" && !image.url.startsWith("//") &&
		(manifest.expires === undefined || Number.isSafeInteger(manifest.expires));
}

test("20,000 mutated bodies, correctly signed: the validator never throws and accepts only valid fields", (t) => {
	const body = new TextEncoder().encode(JSON.stringify(sampleManifest(key, { expires: 1900000000 })));
	const random = new Random(0xb0d1);
	let accepted = 0;
	for (let i = 0; i < 20_000; i++) {
		const mutated = mutate(body, random);
		if (mutated.length === 0 || mutated.length > 4026)
			continue;
		const result = openSignedManifest(seal(mutated, key), keys, nodeVerify);
		if (result.ok) {
			accepted++;
			if (!plausible(result.manifest))
				return t.fail(`accepted invalid fields: ${new TextDecoder().decode(mutated)}`);
		}
	}
	t.log(`accepted ${accepted} of 20000 re-signed mutations (those that stayed valid)`);
	t.true(accepted > 0);
});
