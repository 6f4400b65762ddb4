// Hex text for bytes, and back. Lower-case; fromHex rejects anything that is not an even run of hex digits.
// Without garbage per byte (README, "Memory"): the text is built from a reused Uint16Array of character codes, a piece at
// a time, rather than by concatenating two-character strings, and it is read through String.prototype.charCodeAt.call
// (in XS a method call on a string primitive makes a wrapper object each time).
const charCodeAt = String.prototype.charCodeAt;
const fromCharCode = String.fromCharCode as (...units: number[]) => string;
const PIECE = 128; // characters: 64 bytes
const codes = new Uint16Array(PIECE);
const HEX = /^[0-9a-fA-F]*$/; // made once: a regular expression literal is compiled each time it is evaluated

function digit(value: number): number {
	return value < 10 ? 0x30 + value : 0x57 + value; // 0-9, a-f
}

export function toHex(bytes: Uint8Array): string {
	let out = "";
	let count = 0;
	const length = bytes.length;
	for (let i = 0; i < length; i++) {
		const byte = bytes[i]!;
		codes[count++] = digit(byte >> 4);
		codes[count++] = digit(byte & 15);
		if (count === PIECE) {
			out += fromCharCode.apply(null, codes as unknown as number[]);
			count = 0;
		}
	}
	return count ? out + fromCharCode.apply(null, codes.subarray(0, count) as unknown as number[]) : out;
}

function nibble(code: number): number {
	if (code >= 0x30 && code <= 0x39)
		return code - 0x30;
	return (code | 0x20) - 0x57; // A-F and a-f: the pattern has checked the text
}

export function fromHex(text: string): Uint8Array | undefined {
	if (typeof text !== "string" || text.length % 2 !== 0 || !HEX.test(text))
		return undefined;
	const bytes = new Uint8Array(text.length / 2);
	for (let i = 0; i < bytes.length; i++)
		bytes[i] = (nibble(charCodeAt.call(text, i * 2)) << 4) | nibble(charCodeAt.call(text, i * 2 + 1));
	return bytes;
}
