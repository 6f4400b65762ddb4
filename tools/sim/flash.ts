// Sim flash files: provisioning (partition table, first image in ota_0, otadata left blank as on a freshly
// flashed ESP32), writing an image into a slot, the device config, and otadata as ESP-IDF encodes it.
import { closeSync, openSync, readFileSync, readSync, writeSync, writeFileSync } from "node:fs";
import { espRomCrc32Le } from "../../modules/fota/crc32.js";
import { BODY_SCHEMA, decodeRecord, encodeRecord } from "../../modules/fota/config-store.js";
import type { ConfigArea, ConfigFlash } from "../../modules/fota/ports.js";
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

/** The three areas of `fotacfg` (modules/devconfig/sim/devconfig.c): offset and size of each, in the flash file. */
export function configAreas(flashFile: string): Record<ConfigArea, { offset: number; size: number }> {
	const partition = findPartition(flashFile, "fotacfg");
	const size = Math.floor(partition.size / 3 / SECTOR) * SECTOR;
	if (size < SECTOR)
		throw new Error(`fotacfg: ${partition.size} bytes is too small for three areas`);
	return {
		"factory": { offset: partition.offset, size },
		"working-1": { offset: partition.offset + size, size },
		"working-2": { offset: partition.offset + 2 * size, size },
	};
}

/** Writes the device config as the factory copy of `fotacfg` (a format-2 record, modules/fota/config-store.ts), and
 * blanks the working copies: a device provisioned again starts from this config. */
export function writeDeviceConfig(flashFile: string, json: object | string): void {
	const config = typeof json === "string" ? JSON.parse(json) : json;
	const areas = configAreas(flashFile);
	const record = encodeRecord("good", 0, { schema: BODY_SCHEMA, sequence: 0, config });
	if (record.length > areas.factory.size)
		throw new Error(`fotacfg: the ${record.length}-byte config record does not fit the ${areas.factory.size}-byte factory area`);
	const contents = Buffer.alloc(3 * areas.factory.size, 0xff);
	contents.set(record, 0);
	writeAt(flashFile, areas.factory.offset, contents);
}

/** The raw bytes of one config area (for tests and tools: the device's own reader is config-store.ts). */
export function readConfigArea(flashFile: string, area: ConfigArea): Buffer {
	const { offset, size } = configAreas(flashFile)[area];
	return readAt(flashFile, offset, size);
}

/** The factory copy's config as JSON text (as the device serializes it for its digest), or undefined when there is
 * none; throws when it does not check out. */
export function readDeviceConfig(flashFile: string): string | undefined {
	const bytes = fileConfigFlash(flashFile).read("factory");
	if (!bytes)
		return undefined;
	const record = decodeRecord(bytes, true);
	if (typeof record === "string")
		throw new Error(`fotacfg factory copy: ${record}`);
	return JSON.stringify(record.config);
}

/** Overwrites the start of a config area (tests: a copy destroyed or torn). */
export function writeConfigArea(flashFile: string, area: ConfigArea, bytes: Uint8Array, at = 0): void {
	const { offset, size } = configAreas(flashFile)[area];
	if (at + bytes.length > size)
		throw new Error(`fotacfg ${area}: ${bytes.length} bytes at ${at} do not fit ${size}`);
	writeAt(flashFile, offset + at, bytes);
}

/** The device config's flash of a sim flash file, as the device's port sees it: for Node tools and tests that read
 * what a device would (loadConfig). Blank is four 0xFF bytes at an area's start, as the native has it. */
export function fileConfigFlash(flashFile: string): ConfigFlash {
	const areas = () => configAreas(flashFile);
	return {
		read(area) {
			const { offset, size } = areas()[area];
			const bytes = readAt(flashFile, offset, size);
			if (bytes.readUInt32LE(0) === 0xffffffff)
				return undefined;
			const header = bytes[4] === 1 ? 16 : 20, length = bytes.readUInt32LE(8);
			return new Uint8Array(bytes.subarray(0, length <= size - header ? header + length : 20));
		},
		write(area, bytes) {
			const { offset, size } = areas()[area];
			const contents = Buffer.alloc(size, 0xff);
			contents.set(bytes, 0);
			writeAt(flashFile, offset, contents);
		},
		erase(area) {
			const { offset, size } = areas()[area];
			writeAt(flashFile, offset, Buffer.alloc(size, 0xff));
		},
	};
}
