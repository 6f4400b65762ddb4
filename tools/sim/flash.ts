// Sim flash files: provisioning (partition table, first image in ota_0, otadata left blank as on a freshly
// flashed ESP32), writing an image into a slot, the device config, and otadata as ESP-IDF encodes it.
import { closeSync, openSync, readFileSync, readSync, writeSync, writeFileSync } from "node:fs";
import { crc32, espRomCrc32Le } from "../../modules/fota/crc32.js";
import { parsePartitionsCsv, partitionTableBinary, SECTOR, TABLE_OFFSET, type PartitionEntry } from "./partitions.js";

export const FLASH_SIZE = 4 * 1024 * 1024;
export const OTA_STATES = { new: 0, "pending-verify": 1, valid: 2, invalid: 3, aborted: 4, undefined: 0xffffffff } as const;
export type OtaStateName = keyof typeof OTA_STATES;

export interface OtaEntry {
	seq: number;
	state: number;
	crc: number;
	label?: Buffer;
}

function readAt(flash: string, offset: number, length: number): Buffer {
	const fd = openSync(flash, "r");
	try {
		const buffer = Buffer.alloc(length);
		readSync(fd, buffer, 0, length, offset);
		return buffer;
	} finally {
		closeSync(fd);
	}
}

function writeAt(flash: string, offset: number, data: Uint8Array): void {
	const fd = openSync(flash, "r+");
	try {
		writeSync(fd, data, 0, data.length, offset);
	} finally {
		closeSync(fd);
	}
}

/** The partition table stored in the flash file at 0x8000. */
export function readPartitions(flash: string): PartitionEntry[] {
	const table = readAt(flash, TABLE_OFFSET, 0xc00);
	const entries: PartitionEntry[] = [];
	for (let at = 0; at < table.length && table.readUInt16LE(at) === 0x50aa; at += 32) {
		entries.push({
			type: table[at + 2], subtype: table[at + 3], offset: table.readUInt32LE(at + 4), size: table.readUInt32LE(at + 8),
			label: table.toString("ascii", at + 12, at + 28).replace(/\0+$/, ""), flags: table.readUInt32LE(at + 28),
		});
	}
	return entries;
}

export function findPartition(flash: string, label: string): PartitionEntry {
	const partition = readPartitions(flash).find((entry) => entry.label === label);
	if (!partition)
		throw new Error(`${flash}: no partition labelled ${label}`);
	return partition;
}

/** Writes a fresh flash file: all 0xFF, the partition table, and `image` (if any) in ota_0. */
export function provision(flash: string, { partitionsCsv, image, size = FLASH_SIZE }: { partitionsCsv: string; image?: Buffer; size?: number }): void {
	const entries = parsePartitionsCsv(readFileSync(partitionsCsv, "utf8"));
	const last = entries.reduce((end, entry) => Math.max(end, entry.offset + entry.size), 0);
	if (last > size)
		throw new Error(`${partitionsCsv}: the partitions end at 0x${last.toString(16)}, past the ${size}-byte flash`);
	const contents = Buffer.alloc(size, 0xff);
	partitionTableBinary(entries).copy(contents, TABLE_OFFSET);
	writeFileSync(flash, contents);
	if (image)
		writeImage(flash, "ota_0", image);
}

/** The image in a slot, header and body, as far as its header says (checked by readImage, tools/sim/image.ts). */
export function readSlotImage(flash: string, label: string): Buffer {
	const slot = findPartition(flash, label);
	const header = readAt(flash, slot.offset, 128);
	const bodySize = header.readUInt32LE(8);
	if (header.toString("ascii", 0, 4) !== "XSFI" || bodySize > slot.size - 128)
		throw new Error(`${label}: no image header at 0x${slot.offset.toString(16)}`);
	return readAt(flash, slot.offset, 128 + bodySize);
}

/** Erases the slot's sectors that the image needs and writes it (what an update would leave, minus otadata). */
export function writeImage(flash: string, label: string, image: Buffer): void {
	const slot = findPartition(flash, label);
	if (slot.type !== 0 || image.length > slot.size)
		throw new Error(`${label}: not an app slot, or the ${image.length}-byte image does not fit`);
	const erased = Buffer.alloc(Math.ceil(image.length / SECTOR) * SECTOR, 0xff);
	image.copy(erased);
	writeAt(flash, slot.offset, erased);
}

export function otaCrc(seq: number): number {
	const bytes = Buffer.alloc(4);
	bytes.writeUInt32LE(seq >>> 0);
	return espRomCrc32Le(0xffffffff, bytes);
}

export function readOtadata(flash: string): [OtaEntry, OtaEntry] {
	const otadata = readPartitions(flash).find((entry) => entry.type === 1 && entry.subtype === 0);
	if (!otadata)
		throw new Error(`${flash}: no otadata partition`);
	const entry = (sector: number): OtaEntry => {
		const bytes = readAt(flash, otadata.offset + sector * SECTOR, 32);
		return { seq: bytes.readUInt32LE(0), label: bytes.subarray(4, 24), state: bytes.readUInt32LE(24), crc: bytes.readUInt32LE(28) };
	};
	return [entry(0), entry(1)];
}

/** Writes one otadata sector: undefined erases it; crc defaults to the right one. */
export function writeOtadata(flash: string, sector: 0 | 1, entry: { seq: number; state: number; crc?: number } | undefined): void {
	const otadata = readPartitions(flash).find((e) => e.type === 1 && e.subtype === 0);
	if (!otadata)
		throw new Error(`${flash}: no otadata partition`);
	const bytes = Buffer.alloc(SECTOR, 0xff);
	if (entry) {
		bytes.writeUInt32LE(entry.seq >>> 0, 0);
		bytes.writeUInt32LE(entry.state >>> 0, 24);
		bytes.writeUInt32LE((entry.crc ?? otaCrc(entry.seq)) >>> 0, 28);
	}
	writeAt(flash, otadata.offset + sector * SECTOR, bytes);
}

/** Writes the device config into `fotacfg`: "XSDC", u16 format 1, u16 0, u32 length, u32 CRC-32, then the JSON. */
export function writeDeviceConfig(flashFile: string, json: object | string): void {
	const text = Buffer.from(typeof json === "string" ? JSON.stringify(JSON.parse(json)) : JSON.stringify(json));
	const partition = findPartition(flashFile, "fotacfg");
	if (16 + text.length > partition.size)
		throw new Error(`fotacfg: the ${text.length}-byte config does not fit ${partition.size} bytes`);
	const contents = Buffer.alloc(partition.size, 0xff);
	contents.write("XSDC", 0, "ascii");
	contents.writeUInt16LE(1, 4);
	contents.writeUInt16LE(0, 6);
	contents.writeUInt32LE(text.length, 8);
	contents.writeUInt32LE(crc32(text), 12);
	text.copy(contents, 16);
	writeAt(flashFile, partition.offset, contents);
}

/** The device config's JSON text as writeDeviceConfig stored it in `fotacfg`, or undefined when there is none. */
export function readDeviceConfig(flashFile: string): string | undefined {
	const partition = findPartition(flashFile, "fotacfg");
	const header = readAt(flashFile, partition.offset, 16);
	if (header.toString("ascii", 0, 4) !== "XSDC")
		return undefined;
	const length = header.readUInt32LE(8);
	if (16 + length > partition.size)
		throw new Error(`fotacfg: a ${length}-byte config does not fit ${partition.size} bytes`);
	return readAt(flashFile, partition.offset + 16, length).toString("utf8");
}
