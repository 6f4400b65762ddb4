// The test data the XS tests rely on is genuine: RFC 8032 vectors re-derived by node:crypto, the
// small-order points checked by @noble/ed25519, and the signed manifest fixtures re-signed.
import test from "ava";
import * as ed from "@noble/ed25519";
import { RFC8032 } from "../xs/lib/rfc8032.js";
import { SMALL_ORDER_POINTS } from "../xs/lib/small-order.js";
import { FIXTURE_KEY_ID, FIXTURE_PUBLIC_KEY, FIXTURE_SEED, SIGNED } from "../xs/lib/manifest-fixtures.js";
import { isSmallOrder, nodeVerify } from "../../tools/cli/verifier.js";
import { keyFromSeed, seal, sealV1 } from "./lib/signing.js";
import { createPublicKey, sign, verify } from "node:crypto";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

test("RFC 8032 vectors: node:crypto derives the same public keys and signatures from the seeds", (t) => {
	for (const vector of RFC8032) {
		const key = keyFromSeed(Buffer.from(vector.secret, "hex"));
		t.is(hex(key.publicKey), vector.publicKey, vector.name);
		t.is(hex(sign(null, Buffer.from(vector.message, "hex"), key.privateKey)), vector.signature, vector.name);
	}
});

test("the small-order list holds the 8 distinct points of order dividing 8", (t) => {
	t.is(new Set(SMALL_ORDER_POINTS).size, 8);
	for (const point of SMALL_ORDER_POINTS) {
		const p = ed.Point.fromHex(point);
		t.true(p.multiplyUnsafe(8n).is0(), point);
		t.true(isSmallOrder(Buffer.from(point, "hex")), point);
	}
});

test("OpenSSL alone accepts the identity-key forgery; our Node verify rejects it like libsodium", (t) => {
	const identity = Buffer.from(SMALL_ORDER_POINTS[0]!, "hex");
	const forged = Buffer.concat([identity, Buffer.alloc(32)]);
	const message = Buffer.from("any message at all");
	const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), identity]);
	t.true(verify(null, message, createPublicKey({ key: spki, format: "der", type: "spki" }), forged), "OpenSSL's verify says yes");
	t.false(nodeVerify(forged, message, identity));
});

test("the signed manifest fixtures re-sign byte for byte with the RFC 8032 TEST 1 key", (t) => {
	const key = keyFromSeed(Buffer.from(FIXTURE_SEED, "hex"));
	t.is(hex(key.publicKey), FIXTURE_PUBLIC_KEY);
	t.is(key.keyId, FIXTURE_KEY_ID);
	for (const [name, fixture] of Object.entries(SIGNED))
		t.is(hex((fixture.envelope.startsWith("58464d31") ? sealV1 : seal)(fixture.body, key)), fixture.envelope, name);
});
