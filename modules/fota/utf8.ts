// Strict UTF-8 decoding (and plain encoding), in plain JavaScript so that it runs alike in XS and Node (XS's TextDecoder is a
// Moddable module, Node's a global). Overlong forms, surrogates, code points above U+10FFFF and truncated
// sequences are errors, never replaced: a signed manifest either decodes exactly or is rejected.
// Without garbage per character (README, "Memory"): in XS every property access or method call on a string primitive
// makes a String wrapper object, and an array of character codes costs a slot per character. So strings are read
// through String.prototype.charCodeAt.call (no wrapper), and text is built from one reused Uint16Array of code units,
// a piece at a time, with String.fromCharCode.apply.

const charCodeAt = String.prototype.charCodeAt;
const fromCharCode = String.fromCharCode as (...units: number[]) => string;
/** Code units decoded before they become a piece of the string: a surrogate pair always fits after a flush. */
const PIECE = 256;
const units = new Uint16Array(PIECE);

function flush(count: number): string {
	return fromCharCode.apply(null, (count === PIECE ? units : units.subarray(0, count)) as unknown as number[]);
}

/** Decodes `bytes` as UTF-8; returns undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
	let out = "";
	let count = 0;
	const length = bytes.length;
	for (let i = 0; i < length;) {
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
		if (i + extra >= length)
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
			units[count++] = 0xd800 + (point >> 10);
			units[count++] = 0xdc00 + (point & 0x3ff);
		}
		else
			units[count++] = point;
		if (count >= PIECE - 1) {
			out += flush(count);
			count = 0;
		}
	}
	return count ? out + flush(count) : out;
}

/** Writes the UTF-8 of `text` into `out` when given; returns its length in bytes either way. */
function encodeInto(text: string, out: Uint8Array | undefined): number {
	const length = text.length;
	let at = 0;
	for (let i = 0; i < length; i++) {
		let point: number = charCodeAt.call(text, i);
		if (point >= 0xd800 && point <= 0xdbff && i + 1 < length) {
			const low: number = charCodeAt.call(text, i + 1);
			if (low >= 0xdc00 && low <= 0xdfff) {
				point = 0x10000 + ((point - 0xd800) << 10) + (low - 0xdc00);
				i++;
			}
		}
		if (point >= 0xd800 && point <= 0xdfff)
			point = 0xfffd;
		if (point < 0x80) {
			if (out)
				out[at] = point;
			at += 1;
		}
		else if (point < 0x800) {
			if (out) {
				out[at] = 0xc0 | (point >> 6);
				out[at + 1] = 0x80 | (point & 0x3f);
			}
			at += 2;
		}
		else if (point < 0x10000) {
			if (out) {
				out[at] = 0xe0 | (point >> 12);
				out[at + 1] = 0x80 | ((point >> 6) & 0x3f);
				out[at + 2] = 0x80 | (point & 0x3f);
			}
			at += 3;
		}
		else {
			if (out) {
				out[at] = 0xf0 | (point >> 18);
				out[at + 1] = 0x80 | ((point >> 12) & 0x3f);
				out[at + 2] = 0x80 | ((point >> 6) & 0x3f);
				out[at + 3] = 0x80 | (point & 0x3f);
			}
			at += 4;
		}
	}
	return at;
}

/** Encodes a string as UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder does): counted, then written into one
 * array of the exact size. */
export function encodeUtf8(text: string): Uint8Array {
	const out = new Uint8Array(encodeInto(text, undefined));
	encodeInto(text, out);
	return out;
}
