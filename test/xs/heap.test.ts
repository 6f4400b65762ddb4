// Garbage, measured inside XS (the sim host's sim/memory): opening a signed manifest and the text routines under it
// make no garbage per character (README, "Memory"). Each bound sits well under what the code made before the rewrite
// (in brackets, for the fixture's 256-byte body): a String wrapper per charCodeAt, an array of character codes, the
// config's entries per report. Also: the rewritten decoder builds its text right in XS (String.fromCharCode.apply over
// a Uint16Array), long text and surrogate pairs included, as Moddable's own TextDecoder reads it.
import { verify } from "crypto/ed25519";
import SHA256 from "crypto/sha256";
import { openSignedManifest, unparsable } from "fota/manifest";
import { splitEnvelope } from "fota/envelope";
import { decodeUtf8, encodeUtf8 } from "fota/utf8";
import { toHex } from "fota/hex";
import { keyIdOf, parseDeviceConfig, reportableConfig } from "fota/config";
import { memory, collect } from "sim/memory";
import { test } from "./lib/harness.js";
import { fromHex } from "./lib/bytes.js";
import { FIXTURE_KEY_ID, FIXTURE_PUBLIC_KEY, SIGNED } from "./lib/manifest-fixtures.js";

const keys = [{ keyId: FIXTURE_KEY_ID, publicKey: fromHex(FIXTURE_PUBLIC_KEY) }];
const envelope = fromHex(SIGNED.sim!.envelope);

/** The most memory `fn` takes beyond what was live before it (XS's own peak: chunks and slots, garbage included), on
 * its second run (the first may make what a module keeps for good). */
function allocated(fn: () => unknown): number {
	fn();
	collect();
	const before = memory(true);
	fn();
	return memory().peak - before.current;
}

test("opening a signed manifest makes no garbage per character of its body", (t) => {
	const split = splitEnvelope(envelope);
	t.true(split.ok);
	if (!split.ok)
		return;
	const text = decodeUtf8(split.body)!;
	t.is(split.body.length, 256);
	const decode = allocated(() => decodeUtf8(split.body));
	const check = allocated(() => unparsable(text));
	const open = allocated(() => openSignedManifest(envelope, keys, verify));
	t.true(decode <= 3000, `decodeUtf8: ${decode} bytes (was 9,512)`);
	t.true(check <= 4000, `unparsable: ${check} bytes (was 30,064)`);
	t.true(open <= 16000, `openSignedManifest: ${open} bytes (was 40,960)`);
});

test("toHex, encodeUtf8 and the reported config make no garbage per byte or per field", (t) => {
	const key = keys[0]!.publicKey;
	const sample = "abcdefghij".repeat(10);
	const hex = allocated(() => toHex(key));
	const utf8 = allocated(() => encodeUtf8(sample));
	t.true(hex <= 1500, `toHex of 32 bytes: ${hex} bytes (was 6,488)`);
	t.true(utf8 <= 2000, `encodeUtf8 of 100 characters: ${utf8} bytes (was 20,560)`);
	const sha256 = (data: Uint8Array) => new Uint8Array(SHA256.hash(data));
	const publicKey = "ab".repeat(32);
	const config = parseDeviceConfig({ deviceId: "d", product: "p", server: "https://s.example",
		ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", keys: [{ keyId: keyIdOf(fromHex(publicKey), sha256), publicKey }] }, sha256);
	const fields = reportableConfig(config);
	t.is(reportableConfig(config), fields); // made once per config
	t.is(fields.keyIds, keyIdOf(fromHex(publicKey), sha256));
	t.is(fields.ca, undefined);
	const again = allocated(() => reportableConfig(config));
	t.true(again <= 1000, `the reported config, again: ${again} bytes (was 10,792)`);
});

test("the decoder builds long text and surrogate pairs right in XS, as Moddable's TextDecoder reads it", (t) => {
	const TextDecoder = (globalThis as any).TextDecoder;
	const decoder = new TextDecoder();
	for (let lead = 250; lead < 260; lead++) {
		let sample = "";
		for (let i = 0; i < lead; i++)
			sample += "a";
		for (let i = 0; i < 100; i++)
			sample += "\u{1d11e}\u00e9\u20ac";
		const bytes = encodeUtf8(sample);
		t.is(bytes.length, lead + 100 * 9);
		t.is(decoder.decode(bytes), sample, `${lead}: encodeUtf8 against Moddable's TextDecoder`);
		t.is(decodeUtf8(bytes), sample, `${lead}: decodeUtf8`);
	}
	t.is(toHex(new Uint8Array([0, 15, 16, 255])), "000f10ff");
	t.is(decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80])), undefined);
});
