// The sim board's store for `preference`: a log of records in the flash file's nvs partition, in two halves.
// The active half starts with a header {"XSNV", generation, CRC}; records follow, each with a CRC, so a record
// torn by a power cut is ignored and the value before it stays. When a half is full (or holds a torn record),
// the live values are written into the other half, whose header is written last: until that header lands the
// old half stays active. Format (little-endian): record = 0x5A, op (1 set, 2 delete), type (0 string,
// 1 boolean, 2 number, 3 ArrayBuffer), domain length, key length, 0, u16 value length, domain, key, value, u32 CRC.
import TextEncoder from "text/encoder";
import TextDecoder from "text/decoder";

export type Value = string | boolean | number | ArrayBuffer;
type Domains = Map<string, Map<string, Value>>;

const SECTOR = 4096;
const HEADER = 16;
const MARK = 0x5a;

const nvsSize: () => number | undefined = native("xs_board_nvs_size");
const flashRead: (offset: number, length: number) => ArrayBuffer = native("xs_board_nvs_read");
/** writes the first `length` bytes of data (all of them by default) */
const flashWrite: (offset: number, data: Uint8Array, length?: number) => void = native("xs_board_nvs_write");
const flashErase: (offset: number, length: number) => void = native("xs_board_nvs_erase");
/** The records' CRC-32 over the first `length` bytes (all of them by default), computed in C with the board's one
 * CRC-32 (hosts/sim/c/board/crc32.c): the loop in XS cost the board about a millisecond of CPU a download. */
const crc32: (bytes: Uint8Array, length?: number) => number = native("xs_board_nvs_crc32");

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decodeValue(type: number, bytes: Uint8Array): Value {
	switch (type) {
	case 0: return decoder.decode(bytes);
	case 1: return bytes[0] === 1;
	case 2: return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
	default: return bytes.slice().buffer;
	}
}

/** The most bytes a value takes in a record: UTF-8 has at most 3 bytes for each UTF-16 code unit. */
function valueBound(value: Value | undefined): number {
	if (value === undefined)
		return 0;
	if (typeof value === "string")
		return 3 * value.length;
	if (typeof value === "boolean")
		return 1;
	if (typeof value === "number")
		return 8;
	return value.byteLength;
}

/** An append's record is built here when it fits, most of all a download's checkpoint: one array and one DataView
 * over it, made once, so that a write makes next to no garbage on the sim's heap, as ESP-IDF's
 * NVS writes from C (README, "Memory"); a download writes one at every checkpoint. A record larger than this is built
 * in an array of its own. */
const SCRATCH = new Uint8Array(1024);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);

/** text's UTF-8 into `into` from `at`, written in C from XS's own form of the text, with no garbage on the sim's
 * heap: the bytes written, -1 when they do not fit, -2 for a text it leaves to TextEncoder (putText) */
const putUtf8: (into: Uint8Array, at: number, text: string) => number = native("xs_board_nvs_utf8");

/** text's UTF-8 into `into` from `at`, as TextEncoder writes it: the bytes written, or -1 when they do not fit. */
function putText(into: Uint8Array, at: number, text: string): number {
	const written = putUtf8(into, at, text);
	if (written !== -2)
		return written;
	const result = encoder.encodeInto(text, into.subarray(at)); // a lone surrogate or a U+0000: rare, and garbage
	return result.read === text.length ? result.written as number : -1;
}

/** Encodes one record into `into`, with `view` over all of `into`: returns the record's length, from the start of
 * `into`, or -1 when it does not fit. */
function encodeRecordInto(into: Uint8Array, view: DataView, op: 1 | 2, domain: string, key: string, value?: Value): number {
	const d = putText(into, 8, domain);
	const k = d < 0 ? -1 : putText(into, 8 + d, key);
	if (k < 0)
		return -1;
	const at = 8 + d + k;
	let type = 0, length = 0;
	if (typeof value === "string") {
		length = putText(into, at, value);
		if (length < 0)
			return -1;
	}
	else if (typeof value === "boolean") {
		type = 1;
		length = 1;
		if (at + 1 + 4 > into.length)
			return -1;
		into[at] = value ? 1 : 0;
	}
	else if (typeof value === "number") {
		type = 2;
		length = 8;
		if (at + 8 + 4 > into.length)
			return -1;
		view.setFloat64(at, value, true);
	}
	else if (value !== undefined) {
		type = 3;
		length = value.byteLength;
		if (at + length + 4 > into.length)
			return -1;
		into.set(new Uint8Array(value), at);
	}
	if (length > 0xffff)
		throw new RangeError("preference: value too large");
	const end = at + length;
	if (end + 4 > into.length)
		return -1;
	into[0] = MARK;
	into[1] = op;
	into[2] = type;
	into[3] = d;
	into[4] = k;
	into[5] = 0;
	view.setUint16(6, length, true);
	view.setUint32(end, crc32(into, end), true);
	return end + 4;
}

/** A record in an array of its own (compaction keeps them all until they are written): as large as 8 + 3 bytes a
 * UTF-16 unit of the names + the value's bound + 4, which it always fits. */
function encodeRecord(op: 1 | 2, domain: string, key: string, value?: Value): Uint8Array {
	const bound = 8 + 3 * (domain.length + key.length) + valueBound(value) + 4;
	const into = new Uint8Array(bound);
	return into.slice(0, encodeRecordInto(into, new DataView(into.buffer), op, domain, key, value));
}

export class NvsLog {
	readonly domains: Domains = new Map();
	private readonly half: number;
	private active = 0;      // 0 or 1
	private generation = 0;
	private end = HEADER;    // where the next record goes, in the active half
	private dirty = false;   // the active half holds a torn record: compact before the next write

	constructor(size: number) {
		this.half = Math.floor(size / 2 / SECTOR) * SECTOR;
		if (this.half < SECTOR)
			throw new RangeError("preference: the nvs partition is too small");
		const headers = [0, 1].map((i) => this.readHeader(i));
		const pick = headers[0] >= headers[1] ? 0 : 1;
		if (headers[pick] < 0)
			this.compact(0, 1); // blank or unreadable: start an empty store
		else {
			this.active = pick;
			this.generation = headers[pick];
			this.scan();
		}
	}

	private readHeader(half: number): number {
		const bytes = new Uint8Array(flashRead(half * this.half, HEADER));
		const view = new DataView(bytes.buffer);
		if (String.fromCharCode(...bytes.subarray(0, 4)) !== "XSNV" || view.getUint32(8, true) !== crc32(bytes.subarray(0, 8)))
			return -1;
		return view.getUint32(4, true);
	}

	private scan(): void {
		const bytes = new Uint8Array(flashRead(this.active * this.half, this.half));
		const view = new DataView(bytes.buffer);
		let at = HEADER;
		while (at < bytes.length && bytes[at] !== 0xff) {
			const size = at + 8 <= bytes.length ? 8 + bytes[at + 3] + bytes[at + 4] + view.getUint16(at + 6, true) + 4 : Infinity;
			if (bytes[at] !== MARK || at + size > bytes.length ||
					view.getUint32(at + size - 4, true) !== crc32(bytes.subarray(at, at + size - 4))) {
				this.dirty = true; // torn: everything after it is unusable
				break;
			}
			const d = 8, k = d + bytes[at + 3], v = k + bytes[at + 4];
			const domain = decoder.decode(bytes.subarray(at + d, at + k));
			const key = decoder.decode(bytes.subarray(at + k, at + v));
			if (bytes[at + 1] === 1)
				this.apply(domain, key, decodeValue(bytes[at + 2], bytes.subarray(at + v, at + size - 4)));
			else
				this.apply(domain, key, undefined);
			at += size;
		}
		this.end = at;
	}

	private apply(domain: string, key: string, value: Value | undefined): void {
		let entries = this.domains.get(domain);
		if (value === undefined) {
			entries?.delete(key);
			if (entries?.size === 0)
				this.domains.delete(domain);
			return;
		}
		if (!entries)
			this.domains.set(domain, entries = new Map());
		entries.delete(key); // keeps the latest write last
		entries.set(key, value);
	}

	/** Appends one record, compacting into the other half first when needed. Atomic under power cuts. */
	write(domain: string, key: string, value: Value | undefined): void {
		const op = value === undefined ? 2 : 1;
		let record: Uint8Array = SCRATCH, length = encodeRecordInto(SCRATCH, SCRATCH_VIEW, op, domain, key, value);
		if (length < 0) { // larger than SCRATCH: an array of its own
			record = encodeRecord(op, domain, key, value);
			length = record.length;
		}
		if (this.dirty || this.end + length > this.half) {
			this.apply(domain, key, value);
			this.compact(this.active ^ 1, this.generation + 1);
			return;
		}
		flashWrite(this.active * this.half + this.end, record, length);
		this.end += length;
		this.apply(domain, key, value);
	}

	/** Writes the live values into `half`, then its header: the commit point. */
	private compact(half: number, generation: number): void {
		const records: Uint8Array[] = [];
		for (const [domain, entries] of this.domains)
			for (const [key, value] of entries)
				records.push(encodeRecord(1, domain, key, value));
		const total = records.reduce((sum, record) => sum + record.length, HEADER);
		if (total > this.half)
			throw new RangeError("preference: the nvs partition is full");
		flashErase(half * this.half, this.half);
		const body = new Uint8Array(total - HEADER);
		let at = 0;
		for (const record of records) {
			body.set(record, at);
			at += record.length;
		}
		if (body.length)
			flashWrite(half * this.half + HEADER, body);
		const header = new Uint8Array(HEADER).fill(0xff);
		header.set([0x58, 0x53, 0x4e, 0x56]); // "XSNV"
		const view = new DataView(header.buffer);
		view.setUint32(4, generation, true);
		view.setUint32(8, crc32(header.subarray(0, 8)), true);
		flashWrite(half * this.half, header);
		this.active = half;
		this.generation = generation;
		this.end = total;
		this.dirty = false;
	}
}

/** The store in the board's flash, or undefined when the host runs without a board. */
export function openNvs(): NvsLog | undefined {
	const size = nvsSize();
	return size === undefined ? undefined : new NvsLog(size);
}
