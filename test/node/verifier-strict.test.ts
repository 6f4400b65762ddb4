// Issue 9, defect 9: the CLI verifier applies libsodium's rules exactly. OpenSSL accepts a public key that is a
// small-order point in a non-canonical encoding (the identity as 0100...80), and under it a forged signature
// (R = [s]B, S = s) verifies for any message; `xs-fota verify` printed OK for such a manifest.
import test from "ava";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { isCanonicalPoint, isSmallOrder, nodeVerify } from "../../tools/cli/verifier.js";
import { keyIdOf } from "../../tools/cli/keys.js";
import { frameBody, joinEnvelope } from "../../modules/fota/envelope.js";
import { ROOT } from "./lib/paths.js";

const NON_CANONICAL_SMALL_ORDER = [
	"0100000000000000000000000000000000000000000000000000000000000080", // the identity, sign bit set
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // p - 1 (order 2), sign bit set
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p, i.e. 0 (order 4)
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // p, sign bit set
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1, i.e. 1 (the identity)
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // p + 1, sign bit set
];
const BASE_POINT = "5866666666666666666666666666666666666666666666666666666666666666";

/** R = [1]B, S = 1: valid under the identity for every message, since [S]B = R + [k]identity. */
function forgedSignature(): Uint8Array {
	const signature = Buffer.alloc(64);
	Buffer.from(BASE_POINT, "hex").copy(signature, 0);
	signature[32] = 1;
	return signature;
}

test("the attack is real: OpenSSL verifies a forged signature under the identity encoded as 0100...80", (t) => {
	const key = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(NON_CANONICAL_SMALL_ORDER[0]!, "hex")]), format: "der", type: "spki" });
	t.true(verify(null, Buffer.from("any message at all"), key, forgedSignature()));
});

test("the CLI verifier refuses every non-canonical small-order key, as libsodium does", (t) => {
	for (const hex of NON_CANONICAL_SMALL_ORDER) {
		const key = Buffer.from(hex, "hex");
		t.true(isSmallOrder(key) || !isCanonicalPoint(key), hex);
		t.false(nodeVerify(forgedSignature(), Buffer.from("any message"), key), hex);
	}
	t.false(isSmallOrder(Buffer.from(BASE_POINT, "hex")));
	t.true(isCanonicalPoint(Buffer.from(BASE_POINT, "hex")));
});

test("an S not below the group order is refused", (t) => {
	const signature = Buffer.from(forgedSignature());
	// S = L + 1: the same scalar as 1, non-canonical; libsodium refuses it (sc25519_is_canonical)
	Buffer.from("eed3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", "hex").copy(signature, 32);
	t.false(nodeVerify(signature, Buffer.from("m"), Buffer.from(BASE_POINT, "hex")));
});

test("xs-fota verify does not print OK for a forged manifest under a .pub holding 0100...80", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-strict-"));
	const publicKey = Buffer.from(NON_CANONICAL_SMALL_ORDER[0]!, "hex");
	const keyId = keyIdOf(publicKey);
	writeFileSync(join(dir, "evil.pub"), JSON.stringify({ keyId, publicKey: publicKey.toString("hex") }));
	const body = { format: 1, keyId, product: "p", version: "6.6.6", securityVersion: 0, sequence: 99,
		image: { size: 1, sha256: "0".repeat(64), url: "x.bin", kind: "sim" } };
	const framed = frameBody(new TextEncoder().encode(JSON.stringify(body)));
	writeFileSync(join(dir, "manifest.xfm"), joinEnvelope(framed, forgedSignature()));
	const run = spawnSync(process.execPath, [join(ROOT, "bin/xs-fota.js"), "verify", "--pub", join(dir, "evil.pub"), "--manifest", join(dir, "manifest.xfm")], { encoding: "utf8" });
	t.is(run.status, 1, run.stdout);
	t.notRegex(run.stdout, /OK/);
	t.regex(run.stderr, /small order|bad-signature/);
});
