// Just enough DER (ITU-T X.690) to write an X.509 certificate and to read the parts of one that another needs:
// tag-length-value encoding, INTEGER, OBJECT IDENTIFIER, strings, times, BIT and OCTET STRINGs, and a reader
// that walks a SEQUENCE's elements without interpreting them.

export const TAG = {
	BOOLEAN: 0x01, INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06,
	UTF8_STRING: 0x0c, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18, SEQUENCE: 0x30, SET: 0x31,
} as const;

function lengthBytes(length: number): number[] {
	if (length < 0x80)
		return [length];
	const bytes: number[] = [];
	for (let rest = length; rest > 0; rest = Math.floor(rest / 256))
		bytes.unshift(rest & 0xff);
	return [0x80 | bytes.length, ...bytes];
}

/** One element: its tag, its length and its contents (the concatenation of the parts). */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
	const body = Buffer.concat(parts);
	return Buffer.concat([Buffer.from([tag, ...lengthBytes(body.length)]), body]);
}

export const sequence = (...parts: Uint8Array[]) => tlv(TAG.SEQUENCE, ...parts);
export const set = (...parts: Uint8Array[]) => tlv(TAG.SET, ...parts);
/** [n] EXPLICIT: a constructed context-specific wrapper. */
export const explicit = (n: number, ...parts: Uint8Array[]) => tlv(0xa0 | n, ...parts);
export const nullValue = () => tlv(TAG.NULL);
export const boolean = (value: boolean) => tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
export const octetString = (data: Uint8Array) => tlv(TAG.OCTET_STRING, data);
export const utf8String = (text: string) => tlv(TAG.UTF8_STRING, Buffer.from(text, "utf8"));
/** A BIT STRING of whole bytes, or with the last byte's low unusedBits bits unused. */
export const bitString = (data: Uint8Array, unusedBits = 0) => tlv(TAG.BIT_STRING, Buffer.from([unusedBits]), data);

/** A non-negative INTEGER from its big-endian magnitude: no redundant leading zero, one added if the top bit is set. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
	let start = 0;
	while (start < magnitude.length - 1 && magnitude[start] === 0)
		start++;
	const digits = Buffer.from(magnitude.subarray(start));
	return tlv(TAG.INTEGER, digits.length && digits[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), digits]) : digits);
}

export function smallInteger(value: number): Buffer {
	if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff)
		throw new RangeError(`smallInteger: ${value}`);
	const bytes: number[] = [];
	for (let rest = value; rest > 0; rest = Math.floor(rest / 256))
		bytes.unshift(rest & 0xff);
	return unsignedInteger(Uint8Array.from(bytes.length ? bytes : [0]));
}

/** An OBJECT IDENTIFIER from its dotted form: the first two arcs in one number, each arc in base 128. */
export function oid(dotted: string): Buffer {
	const arcs = dotted.split(".").map(Number);
	if (arcs.length < 2 || arcs.some((arc) => !Number.isSafeInteger(arc) || arc < 0))
		throw new RangeError(`oid: ${dotted}`);
	const bytes: number[] = [];
	for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
		const digits = [arc & 0x7f];
		for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128))
			digits.unshift(0x80 | (rest & 0x7f));
		bytes.push(...digits);
	}
	return tlv(TAG.OID, Buffer.from(bytes));
}

/** X.509's Time: UTCTime for the years 1950 to 2049, GeneralizedTime otherwise (RFC 5280, 4.1.2.5), to the second. */
export function time(date: Date): Buffer {
	const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
	const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
	const year = date.getUTCFullYear();
	return year >= 1950 && year < 2050 ? tlv(TAG.UTC_TIME, Buffer.from(digits.slice(2), "ascii")) : tlv(TAG.GENERALIZED_TIME, Buffer.from(digits, "ascii"));
}

export interface Element {
	tag: number;
	/** the whole element, tag and length included */
	der: Buffer;
	/** the contents */
	value: Buffer;
}

/** The element at the start of data. Throws on a length that runs past the data or is not in DER's definite form. */
export function readElement(data: Buffer, at = 0): Element {
	if (at + 2 > data.length)
		throw new Error("DER: truncated");
	const tag = data[at]!;
	let length = data[at + 1]!, header = 2;
	if (length & 0x80) {
		const count = length & 0x7f;
		if (count === 0 || count > 4 || at + 2 + count > data.length)
			throw new Error("DER: bad length");
		length = 0;
		for (let i = 0; i < count; i++)
			length = length * 256 + data[at + 2 + i]!;
		header += count;
	}
	if (at + header + length > data.length)
		throw new Error("DER: truncated");
	return { tag, der: data.subarray(at, at + header + length), value: data.subarray(at + header, at + header + length) };
}

/** The elements inside a constructed element's contents, in order. */
export function children(value: Buffer): Element[] {
	const out: Element[] = [];
	for (let at = 0; at < value.length;) {
		const element = readElement(value, at);
		out.push(element);
		at += element.der.length;
	}
	return out;
}
