// The signed-manifest parser in Node: every reason, the order of the checks, and what is trusted when.
import test from "ava";
import { openSignedManifest, compareSemver, MAX_MANIFEST_BYTES, type OpenResult, type Verify } from "../../modules/fota/manifest.js";
import { MAX_BODY_BYTES } from "../../modules/fota/envelope.js";
import { decodeUtf8 } from "../../modules/fota/utf8.js";
import { nodeVerify } from "../../tools/cli/verifier.js";
import { keyFromNumber, sampleManifest, seal, sealV1 } from "./lib/signing.js";
import { frameBody, frameBody2, joinEnvelope } from "../../modules/fota/envelope.js";

const key = keyFromNumber(1);
const other = keyFromNumber(2);
const keys = [key];

function open(bytes: Uint8Array, verify: Verify = nodeVerify): OpenResult {
	return openSignedManifest(bytes, keys, verify);
}

function reason(result: OpenResult): string {
	return result.ok ? "ok" : result.reason;
}

test("a valid manifest opens, with exactly the signed fields", (t) => {
	const fields = sampleManifest(key, { expires: 4102444800 });
	const result = open(seal(fields, key));
	t.true(result.ok);
	if (result.ok) {
		t.deepEqual({ ...result.manifest, image: { ...result.manifest.image } }, fields);
		t.true(Object.isFrozen(result.manifest) && Object.isFrozen(result.manifest.image));
	}
});

test("size is bounded before anything else: 4097 bytes are oversized even when well signed", (t) => {
	const base = sampleManifest(key);
	const padded = { ...base, product: "p" }; // grow the body with JSON whitespace up to the maximum
	const json = JSON.stringify(padded);
	const body = json.slice(0, -1) + " ".repeat(MAX_BODY_BYTES - json.length) + "}";
	t.is(reason(open(seal(body, key))), "ok", "a body of exactly MAX_BODY_BYTES is fine");
	const tooBig = new Uint8Array(MAX_MANIFEST_BYTES + 1);
	let called = false;
	t.is(reason(open(tooBig, () => (called = true))), "oversized");
	t.false(called);
});

test("envelope framing: magic, version byte, length field, trailing bytes, truncation", (t) => {
	const good = seal(sampleManifest(key), key);
	const copy = (edit: (bytes: Uint8Array) => Uint8Array | void) => {
		const bytes = good.slice();
		return edit(bytes) ?? bytes;
	};
	t.is(reason(open(copy((b) => { b[0] = 0x59; }))), "malformed");
	t.is(reason(open(copy((b) => { b[3] = 0x33; }))), "unknown-format");
	t.is(reason(open(copy((b) => { b[13] ^= 1; }))), "malformed");
	t.is(reason(open(copy((b) => { b[12] = 0; b[13] = 0; }))), "malformed");
	t.is(reason(open(copy((b) => { b[4] ^= 1; }))), "unknown-key", "the header's key id chooses the key");
	t.is(reason(open(good.subarray(0, good.length - 1))), "malformed");
	t.is(reason(open(new Uint8Array([...good, 0]))), "malformed");
	t.is(reason(open(new Uint8Array(10))), "malformed");
	t.is(reason(open("XFM1" as never)), "malformed");
});

test("only authenticated bytes are read: a well-signed body that is no manifest is malformed or fails its fields", (t) => {
	let calls = 0;
	const counting: Verify = (...args) => { calls++; return nodeVerify(...args); };
	t.is(reason(open(seal(new Uint8Array([0x7b, 0xff, 0x7d]), key), counting)), "malformed");
	t.is(reason(open(seal("{\"format\":1,", key), counting)), "malformed");
	t.is(reason(open(seal("[1,2]", key), counting)), "malformed");
	t.is(reason(open(seal("null", key), counting)), "malformed");
	t.is(reason(open(seal({ format: 1 }, key), counting)), "missing-field");
	t.is(reason(open(seal({ format: 1, keyId: 7 }, key), counting)), "wrong-type");
	t.is(calls, 6, "each was verified before it was read");
	t.is(reason(open(seal(sampleManifest(other), other), counting)), "unknown-key");
	t.is(calls, 6, "an unknown key id is refused from the header, without verifying");
});

// Issue 9, defect 1: a body that would exhaust the parser's stack is never parsed unless it is signed.
test("3,900 unclosed [ with an all-zero signature: bad-signature, in XFM2 and XFM1, and nothing parsed", (t) => {
	const deep = new Uint8Array(3900).fill(0x5b);
	const zero = new Uint8Array(64);
	let calls = 0;
	const counting: Verify = (...args) => { calls++; return nodeVerify(...args); };
	t.like(open(joinEnvelope(frameBody2(key.keyId, deep), zero), counting), { ok: false, reason: "bad-signature" });
	t.like(open(joinEnvelope(frameBody(deep), zero), counting), { ok: false, reason: "bad-signature" });
	t.is(calls, 2);
	// signed by a trusted key, the depth bound still keeps the parser's recursion short
	t.like(open(seal(deep, key)), { ok: false, reason: "malformed", detail: "the body nests deeper than 8" });
});

test("an XFM1 manifest still opens: its key is found by verifying with each trusted key", (t) => {
	const result = openSignedManifest(sealV1(sampleManifest(key), key), [other, key], nodeVerify);
	t.true(result.ok);
	t.like(openSignedManifest(sealV1(sampleManifest(key), key), [other], nodeVerify), { ok: false, reason: "bad-signature" });
});

test("nothing in the body counts until the signature verifies: a bad signature wins over bad fields", (t) => {
	const junk = seal({ keyId: key.keyId, format: 99, product: 5 }, { ...other, keyId: key.keyId }); // our id, the wrong key
	t.is(reason(open(junk)), "bad-signature");
	const good = seal(sampleManifest(key), key);
	const flipped = good.slice();
	flipped[flipped.length - 1] ^= 0x80;
	t.is(reason(open(flipped)), "bad-signature");
	// A verify function that throws fails closed.
	const result = open(good, () => { throw new Error("engine busy"); });
	t.deepEqual(result, { ok: false, reason: "bad-signature", detail: "verification failed: engine busy" });
	// A truthy non-boolean is not a verification.
	t.is(reason(open(good, (() => 1) as never)), "bad-signature");
});

test("the signature covers the magic and the length as well as the body", (t) => {
	const good = seal(sampleManifest(key), key);
	const seen: Uint8Array[] = [];
	open(good, (signature, message, publicKey) => { seen.push(message); return nodeVerify(signature, message, publicKey); });
	t.deepEqual([...seen[0]!], [...good.subarray(0, good.length - 64)]);
});

const fieldCases: [string, Record<string, unknown>, string, RegExp][] = [
	["format 2", { format: 2 }, "unknown-format", /format 2/],
	["format as a string", { format: "1" }, "wrong-type", /format/],
	["format missing", { format: undefined }, "missing-field", /format is missing/],
	["product missing", { product: undefined }, "missing-field", /product is missing/],
	["product empty", { product: "" }, "wrong-type", /product/],
	["product with a slash", { product: "a/b" }, "wrong-type", /product/],
	["version not semver", { version: "1.2" }, "wrong-type", /semantic version/],
	["version with a leading zero", { version: "1.02.0" }, "wrong-type", /semantic version/],
	["version a number", { version: 1 }, "wrong-type", /version must be a string/],
	["securityVersion negative", { securityVersion: -1 }, "wrong-type", /securityVersion must be 0 to 4294967295/],
	["securityVersion 2^32", { securityVersion: 2 ** 32 }, "wrong-type", /securityVersion/],
	["securityVersion fractional", { securityVersion: 1.5 }, "wrong-type", /integer/],
	["securityVersion a string", { securityVersion: "3" }, "wrong-type", /integer/],
	["sequence beyond safe integers", { sequence: 2 ** 53 }, "wrong-type", /sequence/],
	["sequence missing", { sequence: undefined }, "missing-field", /sequence is missing/],
	["image missing", { image: undefined }, "missing-field", /image is missing/],
	["image an array", { image: [] }, "wrong-type", /image must be an object/],
	["an unknown field", { channel: "beta" }, "malformed", /unknown field "channel"/],
	["expires negative", { expires: -5 }, "wrong-type", /expires/],
	["expires a string", { expires: "tomorrow" }, "wrong-type", /expires/],
	["nothing changed", {}, "ok", /./],
];

for (const [title, changes, expected, detail] of fieldCases) {
	test(`field validation: ${title} -> ${expected}`, (t) => {
		const fields: Record<string, unknown> = sampleManifest(key, changes);
		for (const name of Object.keys(changes))
			if (changes[name] === undefined)
				delete fields[name];
		const result = open(seal(fields, key));
		t.is(reason(result), expected);
		if (!result.ok)
			t.regex(result.detail, detail);
	});
}

const imageCases: [string, Record<string, unknown>, string][] = [
	["size 0", { size: 0 }, "wrong-type"],
	["size 2^32", { size: 2 ** 32 }, "wrong-type"],
	["size as a string", { size: "10" }, "wrong-type"],
	["sha256 upper-case", { sha256: "AB".repeat(32) }, "wrong-type"],
	["sha256 short", { sha256: "ab".repeat(31) }, "wrong-type"],
	["url http", { url: "http://example.com/fw.bin" }, "wrong-type"],
	["url scheme-relative", { url: "//evil.example/fw.bin" }, "wrong-type"],
	["url javascript:", { url: "javascript:alert(1)" }, "wrong-type"],
	["url with a space", { url: "fw 1.bin" }, "wrong-type"],
	["url with userinfo", { url: "https://user@evil.example/fw.bin" }, "wrong-type"],
	["url https absolute", { url: "https://updates.example.com/fw/1.4.0.bin" }, "ok"],
	["url path-relative", { url: "../images/fw.bin" }, "ok"],
	["kind in upper case", { kind: "ESP32" }, "wrong-type"],
	["kind longer than the header's 8 bytes", { kind: "esp32-s3-mini" }, "wrong-type"],
	["kind with a NUL", { kind: "lin\u0000" }, "wrong-type"],
	["kind missing", { kind: undefined }, "missing-field"],
	["kind lin", { kind: "lin" }, "ok"],
	["kind of a board to come", { kind: "riscv32" }, "ok"],
	["an unknown image field", { compression: "none" }, "malformed"],
];

for (const [title, changes, expected] of imageCases) {
	test(`image validation: ${title} -> ${expected}`, (t) => {
		const base = sampleManifest(key);
		const image: Record<string, unknown> = { ...base.image, ...changes };
		for (const name of Object.keys(changes))
			if (changes[name] === undefined)
				delete image[name];
		t.is(reason(open(seal({ ...base, image }, key))), expected);
	});
}

test("the key is chosen by keyId among several trusted keys", (t) => {
	const both = [other, key];
	t.true(openSignedManifest(seal(sampleManifest(key), key), both, nodeVerify).ok);
	t.true(openSignedManifest(seal(sampleManifest(other), other), both, nodeVerify).ok);
	// A manifest naming one key but signed by the other is rejected: under the other's id, the body's id disagrees;
	// under the named id, the signature does not verify.
	t.is(reason(openSignedManifest(seal(sampleManifest(key), other), both, nodeVerify)), "malformed");
	t.is(reason(openSignedManifest(seal(sampleManifest(key), { ...other, keyId: key.keyId }), both, nodeVerify)), "bad-signature");
});

test("duplicate JSON keys: the signature covers the bytes, and JSON.parse's last-wins is what both sides read", (t) => {
	const json = JSON.stringify(sampleManifest(key)).replace('"sequence":41', '"sequence":1,"sequence":41');
	const result = open(seal(json, key));
	t.true(result.ok && result.manifest.sequence === 41);
});

test("compareSemver follows semver 2.0.0 precedence", (t) => {
	const ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
		"1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0", "10.0.0", "99999999999999999999.0.0"];
	for (let i = 0; i < ordered.length; i++)
		for (let j = 0; j < ordered.length; j++)
			t.is(compareSemver(ordered[i]!, ordered[j]!), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
	t.is(compareSemver("1.0.0+build.1", "1.0.0+build.2"), 0);
	t.is(compareSemver("1.0.0-1", "1.0.0-a"), -1);
	for (const bad of ["1.0", "01.0.0", "1.0.0-", "1.0.0-01", "v1.0.0", "1.0.0+", ""])
		t.throws(() => compareSemver(bad, "1.0.0"), { instanceOf: TypeError }, bad);
});

test("strict UTF-8: valid text decodes exactly; overlongs, surrogates and truncation are rejected", (t) => {
	const text = "ascii é € 𝄞 ünïcödé";
	t.is(decodeUtf8(new TextEncoder().encode(text)), text);
	for (const bad of [[0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xff], [0xf8, 0x88, 0x80, 0x80, 0x80]])
		t.is(decodeUtf8(new Uint8Array(bad)), undefined, JSON.stringify(bad));
	// Every 2-byte input agrees with a fatal TextDecoder.
	const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
	for (let a = 0; a < 256; a++)
		for (let b = 0; b < 256; b += 3) {
			const bytes = new Uint8Array([a, b]);
			let expected: string | undefined;
			try { expected = fatal.decode(bytes); } catch { expected = undefined; }
			if (decodeUtf8(bytes) !== expected)
				return t.fail(`bytes ${a},${b}`);
		}
	t.pass();
});

// Issue 9, defect 8: integers are checked on the text, after the signature.
for (const [field, text] of [["sequence", "2.0"], ["sequence", "2e0"], ["securityVersion", "1e-400"], ["securityVersion", "-0"],
	["sequence", "2.0000000000000001"], ["image.size", "1.5e3"]] as const) {
	test(`a signed ${field} of ${text} is wrong-type, as written, not as JSON.parse reads it`, (t) => {
		const body = JSON.stringify(sampleManifest(key)).replace(field === "image.size" ? /"size":\d+/ : new RegExp(`"${field}":\\d+`),
			`"${field === "image.size" ? "size" : field}":${text}`);
		t.true(body.includes(`:${text}`));
		const result = open(seal(body, key));
		t.like(result, { ok: false, reason: "wrong-type" });
		t.regex((result as { detail: string }).detail, new RegExp(`canonical decimal integers, not ${text.replace(/[.+]/g, "\\$&")}`));
	});
}

test("digits inside strings are not numbers: a version of 1.0e5 and a URL with -0 are fine", (t) => {
	const body = JSON.stringify(sampleManifest(key, { version: "1.0.5-rc.0" }));
	t.true(open(seal(body.replace('"url":"', '"url":"fw-0.0-1e5'), key)).ok);
});
