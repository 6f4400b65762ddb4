// ESP-IDF partition tables: the CSV that hosts/esp32/partitions.csv is written in, and the binary table
// (32-byte entries, magic 0x50AA, then an MD5 entry) that gen_esp32part.py writes at 0x8000 and the sim board reads.
import { createHash } from "node:crypto";

export interface PartitionEntry {
	label: string;
	type: number;
	subtype: number;
	offset: number;
	size: number;
	flags: number;
}

export const SECTOR = 4096;
export const TABLE_OFFSET = 0x8000;
const TYPES: Record<string, number> = { app: 0x00, data: 0x01 };
const APP_SUBTYPES: Record<string, number> = { factory: 0x00, test: 0x20 };
const DATA_SUBTYPES: Record<string, number> = {
	ota: 0x00, phy: 0x01, nvs: 0x02, coredump: 0x03, nvs_keys: 0x04, efuse: 0x05, undefined: 0x06,
	esphttpd: 0x80, fat: 0x81, spiffs: 0x82, littlefs: 0x83,
};

function parseNumber(text: string, what: string): number {
	const match = /^(0x[0-9a-f]+|\d+)([km]?)$/i.exec(text.trim());
	if (!match)
		throw new Error(`partitions.csv: ${what} "${text}" is not a number`);
	const scale = { "": 1, k: 1024, m: 1024 * 1024 }[match[2].toLowerCase() as "" | "k" | "m"];
	return Number(match[1]) * scale;
}

/** Parses partitions.csv; empty offsets follow the previous partition (apps aligned to 64 KB). */
export function parsePartitionsCsv(text: string): PartitionEntry[] {
	const entries: PartitionEntry[] = [];
	let next = TABLE_OFFSET + 0x1000;
	for (const raw of text.split("\n")) {
		const line = raw.replace(/#.*/, "").trim();
		if (!line)
			continue;
		const [label, typeText, subtypeText, offsetText, sizeText, flagsText = ""] = line.split(",").map((field) => field.trim());
		if (!label || label.length > 16 || !typeText || !subtypeText || !sizeText)
			throw new Error(`partitions.csv: malformed line "${raw.trim()}"`);
		const type = typeText in TYPES ? TYPES[typeText] : parseNumber(typeText, "type");
		const ota = /^ota_(\d+)$/.exec(subtypeText);
		const subtype = type === 0 && ota ? 0x10 + Number(ota[1])
			: type === 0 && subtypeText in APP_SUBTYPES ? APP_SUBTYPES[subtypeText]
			: type === 1 && subtypeText in DATA_SUBTYPES ? DATA_SUBTYPES[subtypeText]
			: parseNumber(subtypeText, "subtype");
		const align = type === 0 ? 0x10000 : SECTOR;
		const offset = offsetText ? parseNumber(offsetText, "offset") : Math.ceil(next / align) * align;
		const size = parseNumber(sizeText, "size");
		if (offset % align || size % SECTOR || offset < next)
			throw new Error(`partitions.csv: ${label} at 0x${offset.toString(16)} is misaligned or overlaps the one before`);
		entries.push({ label, type, subtype, offset, size, flags: flagsText.includes("encrypted") ? 1 : 0 });
		next = offset + size;
	}
	return entries;
}

export function partitionTableBinary(entries: PartitionEntry[]): Buffer {
	const table = Buffer.alloc(0xc00, 0xff);
	entries.forEach((entry, i) => {
		const at = i * 32;
		table.writeUInt16LE(0x50aa, at);
		table[at + 2] = entry.type;
		table[at + 3] = entry.subtype;
		table.writeUInt32LE(entry.offset, at + 4);
		table.writeUInt32LE(entry.size, at + 8);
		table.fill(0, at + 12, at + 28);
		table.write(entry.label, at + 12, 16, "ascii");
		table.writeUInt32LE(entry.flags, at + 28);
	});
	const md5At = entries.length * 32;
	table.writeUInt16LE(0xebeb, md5At);
	createHash("md5").update(table.subarray(0, md5At)).digest().copy(table, md5At + 16);
	return table;
}
