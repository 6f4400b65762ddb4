// tools/release/check.ts: what a release must pass before the server offers it (and `xs-fota verify` says OK).
import test from "ava";
import { checkRelease } from "../../tools/release/check.js";
import { bytes, makeKey, signRelease } from "./lib/release.js";

const IMAGE = bytes(5000, 3);

function release(fields: Record<string, unknown> = {}) {
	const key = makeKey();
	const manifest = signRelease(IMAGE, { version: "2.0.0", sequence: 7, securityVersion: 1, url: "firmware-2.0.0.bin", ...fields } as any, key);
	return { key, manifest, keys: [{ keyId: key.keyId, publicKey: key.publicKey }] };
}

test("a good release passes, and says what it is", (t) => {
	const { manifest, keys } = release();
	const checked = checkRelease(manifest, IMAGE, keys, { product: "demo-board", latestSequence: 6, plainImageName: true });
	t.true(checked.ok);
	t.like(checked.ok ? checked.manifest : {}, { version: "2.0.0", sequence: 7 });
});

test("each refusal has its reason: forged signature, unknown key, other product, stale sequence, image size and digest, a path in the image URL", (t) => {
	const { manifest, keys } = release();
	const forged = Uint8Array.from(manifest);
	forged[forged.length - 1]! ^= 1;
	t.like(checkRelease(forged, IMAGE, keys), { ok: false, refusal: "manifest", reason: "bad-signature" });
	t.like(checkRelease(manifest, IMAGE, [{ keyId: "0011223344556677", publicKey: keys[0]!.publicKey }]), { ok: false, reason: "unknown-key" });
	t.like(checkRelease(manifest, IMAGE, keys, { product: "other-board" }), { ok: false, refusal: "wrong-product" });
	t.like(checkRelease(manifest, IMAGE, keys, { latestSequence: 7 }), { ok: false, refusal: "stale-sequence" });
	t.like(checkRelease(manifest, IMAGE, keys, { latestSequence: 9 }), { ok: false, refusal: "stale-sequence" });
	t.like(checkRelease(manifest, IMAGE.subarray(1), keys), { ok: false, refusal: "size-mismatch" });
	const flipped = Uint8Array.from(IMAGE);
	flipped[100]! ^= 0x40;
	t.like(checkRelease(manifest, flipped, keys), { ok: false, refusal: "digest-mismatch" });
	for (const url of ["../../etc/passwd", "a/b.bin", ".hidden", "x%2F..%2Fy"]) {
		const climbing = release({ url });
		t.like(checkRelease(climbing.manifest, IMAGE, climbing.keys, { plainImageName: true }), { ok: false, refusal: "bad-image-url" }, url);
	}
});
