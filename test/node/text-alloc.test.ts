// Differential tests of the text routines rewritten not to allocate per character (README, "Memory"): the strict
// UTF-8 decoder, the UTF-8 encoder, toHex/fromHex and the manifest's pre-parse check (unparsable), each against the
// implementation it replaced (kept here, verbatim, as the reference) or against Node's own, over seeded random and
// mutated inputs, including texts longer than the decoder's piece of code units and surrogate pairs across its edge.
import test from "ava";
import { decodeUtf8, encodeUtf8 } from "../../modules/fota/utf8.js";
import { fromHex, toHex } from "../../modules/fota/hex.js";
import { unparsable } from "../../modules/fota/manifest.js";
import { Random } from "../xs/lib/bytes.js";
import { mutate } from "./lib/mutate.js";
import { keyFromNumber, sampleManifest } from "./lib/signing.js";

const MAX_DEPTH = 8;

/** The decoder before the rewrite (an array of code units, String.fromCharCode over 1,024 at a time). */
function oldDecodeUtf8(bytes: Uint8Array): string | undefined {
	let out = "";
	let units: number[] = [];
	for (let i = 0; i < bytes.length;) {
		const lead = bytes[i]!;
		let point: number, extra: number, min: number;
		if (lead < 0x80) {
			point = lead; extra = 0; min = 0;
		}
		else if (lead >= 0xc2 && lead <= 0xdf) {
			point = lead & 0x1f; extra = 1; min = 0x80;
		}
		else if (lead >= 0xe0 && lead <= 0xef) {
			point = lead & 0x0f; extra = 2; min = 0x800;
		}
		else if (lead >= 0xf0 && lead <= 0xf4) {
			point = lead & 0x07; extra = 3; min = 0x10000;
		}
		else
			return undefined;
		if (i + extra >= bytes.length)
			return undefined;
		for (let k = 1; k <= extra; k++) {
			const next = bytes[i + k]!;
			if ((next & 0xc0) !== 0x80)
				return undefined;
			point = (point << 6) | (next & 0x3f);
		}
		if (point < min || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
			return undefined;
		i += extra + 1;
		if (point >= 0x10000) {
			point -= 0x10000;
			units.push(0xd800 + (point >> 10), 0xdc00 + (point & 0x3ff));
		}
		else
			units.push(point);
		if (units.length >= 1024) {
			out += String.fromCharCode(...units);
			units = [];
		}
	}
	return out + String.fromCharCode(...units);
}

/** The pre-parse check before the rewrite (text.charCodeAt per character, a pattern per number character). */
function oldUnparsable(text: string, fractions = false): { reason: "malformed" | "wrong-type"; detail: string } | undefined {
	let depth = 0, inString = false;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (inString) {
			if (c === 0x5c) // backslash: skip the escaped character
				i++;
			else if (c === 0x22)
				inString = false;
		}
		else if (c === 0x22)
			inString = true;
		else if (c === 0x5b || c === 0x7b) {
			if (++depth > MAX_DEPTH)
				return { reason: "malformed", detail: `the body nests deeper than ${MAX_DEPTH}` };
		}
		else if (c === 0x5d || c === 0x7d)
			depth--;
		else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
			let end = i;
			while (end < text.length && /[-+.eE0-9]/.test(text[end]!))
				end++;
			const token = text.slice(i, end);
			if (!(fractions ? /^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?$/ : /^-?(0|[1-9][0-9]*)$/).test(token) || token === "-0")
				return { reason: "wrong-type", detail: fractions ? `numbers must be plain decimals (at most 15 digits before the point and 6 after), not ${token.slice(0, 32)}`
					: `numbers must be canonical decimal integers, not ${token.slice(0, 32)}` };
			i = end - 1;
		}
	}
	return undefined;
}

/** Random bytes biased towards UTF-8: ASCII, lead bytes, continuation bytes and the edges between them. */
function utf8ish(random: Random, length: number): Uint8Array {
	const pick = [0x00, 0x22, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
	const out = new Uint8Array(length);
	for (let i = 0; i < length; i++)
		out[i] = random.below(3) === 0 ? pick[random.below(pick.length)]! : random.below(256);
	return out;
}

/** Random text: ASCII, 2-, 3- and 4-byte characters, and now and then a lone surrogate. */
function text(random: Random, length: number): string {
	let out = "";
	for (let i = 0; i < length; i++) {
		const kind = random.below(10);
		const point = kind < 5 ? 0x20 + random.below(0x5f) : kind < 7 ? 0x80 + random.below(0x780) : kind < 8 ? 0x800 + random.below(0xf800)
			: kind < 9 ? 0x10000 + random.below(0x100000) : 0xd800 + random.below(0x800);
		out += String.fromCodePoint(point);
	}
	return out;
}

test("decodeUtf8 agrees with the decoder it replaced and with a fatal TextDecoder, on random bytes and on long valid text", (t) => {
	const random = new Random(0x75f8);
	const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
	let valid = 0;
	for (let i = 0; i < 20_000; i++) {
		const bytes = i % 4 === 0 ? new TextEncoder().encode(text(random, random.below(700))) : utf8ish(random, random.below(i % 3 ? 12 : 600));
		const got = decodeUtf8(bytes);
		if (got !== oldDecodeUtf8(bytes))
			return t.fail(`differs from the old decoder on ${Buffer.from(bytes).toString("hex").slice(0, 200)}`);
		let expected: string | undefined;
		try { expected = fatal.decode(bytes); } catch { expected = undefined; }
		if (got !== expected)
			return t.fail(`differs from TextDecoder on ${Buffer.from(bytes).toString("hex").slice(0, 200)}`);
		if (got !== undefined)
			valid++;
	}
	t.true(valid > 5000, `only ${valid} valid inputs`);
	// surrogate pairs at every position around the 256-unit piece
	for (let lead = 250; lead < 260; lead++) {
		const sample = "a".repeat(lead) + "𝄞é€".repeat(100);
		t.is(decodeUtf8(new TextEncoder().encode(sample)), sample, `${lead} ASCII first`);
	}
});

test("encodeUtf8 agrees with TextEncoder (a lone surrogate becomes U+FFFD), and toHex/fromHex with Buffer", (t) => {
	const random = new Random(0xe1c0);
	for (let i = 0; i < 5_000; i++) {
		const sample = text(random, random.below(300));
		if (Buffer.compare(Buffer.from(encodeUtf8(sample)), Buffer.from(new TextEncoder().encode(sample))) !== 0)
			return t.fail(`differs on ${JSON.stringify(sample).slice(0, 200)}`);
		const bytes = random.fill(new Uint8Array(random.below(200)));
		const hex = Buffer.from(bytes).toString("hex");
		if (toHex(bytes) !== hex || Buffer.compare(Buffer.from(fromHex(hex)!), Buffer.from(bytes)) !== 0 || Buffer.compare(Buffer.from(fromHex(hex.toUpperCase())!), Buffer.from(bytes)) !== 0)
			return t.fail(`hex differs on ${hex}`);
	}
	for (const bad of ["0", "0g", "zz", " 00", "0x00"])
		t.is(fromHex(bad), undefined, bad);
	t.pass();
});

test("unparsable agrees with the check it replaced on mutated manifest and config bodies, in both number modes", (t) => {
	const random = new Random(0x0b0d);
	const bodies = [
		JSON.stringify(sampleManifest(keyFromNumber(3))),
		JSON.stringify({ a: [1, -2, 0, 3.25, -0.5, 1e3, "x\\\"1", { b: [[[[[]]]]] }], jitter: 0.2, n: -0, big: 123456789012345678 }),
		"[".repeat(9) + "]".repeat(9),
		`{"s":"\\\\","t":"\\"[[[[[[[[[[","u":"é€𝄞","v":0.1234567,"w":01,"x":+1,"y":2.,"z":.5}`,
	];
	const counts = { refused: 0, passed: 0 };
	for (let i = 0; i < 40_000; i++) {
		const body = new TextEncoder().encode(bodies[i % bodies.length]!);
		const sample = new TextDecoder().decode(i % 5 === 0 ? body : mutate(body, random));
		for (const fractions of [false, true]) {
			const got = unparsable(sample, fractions), expected = oldUnparsable(sample, fractions);
			if (JSON.stringify(got) !== JSON.stringify(expected))
				return t.fail(`differs on ${JSON.stringify(sample)} (fractions ${fractions}): ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
			counts[got ? "refused" : "passed"]++;
		}
	}
	t.true(counts.refused > 1000 && counts.passed > 1000, JSON.stringify(counts));
});
