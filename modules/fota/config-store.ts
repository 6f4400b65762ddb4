// The device config's store (README, "Device config"): three copies in the fotacfg partition, so that no torn
// write and no lost copy leaves a device without a valid config.
//   factory     written once, at provisioning, never by the device: the identity (deviceId, product, the TLS key and
//               certificates) and the first settings.
//   working-1/2 written by the device when it takes a config document: the settings and the document's sequence,
//               never the TLS key or certificates (those stay in the factory copy, so no document reaches them).
// Each copy is one record: "XSDC", u8 format 2, u8 status (1 good, 2 trial), u16 0, u32 length, u32 CRC-32, u32
// count, then the JSON body {"schema": 1, "sequence": N, "config": {...}}. The CRC covers every byte but its own;
// the count grows with every write, so the newest intact working copy is the current one. A working copy written
// for a trial says so, and stays a trial until the device records its count as confirmed (the store's "cfgok"):
// confirming never rewrites the copy, so a cut while confirming cannot lose it.
// The factory copy may also be format 1 ("XSDC", u16 1, u16 0, u32 length, u32 CRC-32 of the JSON, the JSON: what
// provisioning wrote before working copies existed) or bare JSON (the ESP32's NVS blob from nvs_partition_gen.py).
// Fields this version does not know, in the config or in the body, are kept when a copy is written again.
import { crc32 } from "./crc32.js";
import { ConfigError, parseDeviceConfig, type DeviceConfig, type Sha256 } from "./config.js";
import { decodeUtf8, encodeUtf8 } from "./utf8.js";
import type { ConfigSource } from "./protocol.js";
import type { Records } from "./records.js";
import type { ConfigArea, ConfigFlash, WorkingArea } from "./ports.js";

export type { ConfigArea, ConfigFlash, WorkingArea };
export const WORKING_AREAS: readonly WorkingArea[] = ["working-1", "working-2"];

export const RECORD_MAGIC = [0x58, 0x53, 0x44, 0x43]; // "XSDC"
export const RECORD_FORMAT = 2;
export const HEADER_BYTES = 20;
const LEGACY_HEADER_BYTES = 16;
export const STATUS_GOOD = 1;
export const STATUS_TRIAL = 2;
export const BODY_SCHEMA = 1;
/** The device's identity secrets: only ever in the factory copy. */
const FACTORY_ONLY = ["clientKey", "clientCertificates"];
/** Its identity: taken from the factory copy when it is readable. */
const IDENTITY = ["deviceId", "product", ...FACTORY_ONLY];

export interface ConfigRecord {
	format: 0 | 1 | 2;
	status: "good" | "trial";
	count: number;
	/** the document's sequence: 0 for a factory config */
	sequence: number;
	config: Record<string, unknown>;
	/** the whole body, with fields this version does not know */
	body: Record<string, unknown>;
}

function le32(bytes: Uint8Array, at: number): number {
	return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function put32(bytes: Uint8Array, at: number, value: number): void {
	bytes[at] = value & 0xff;
	bytes[at + 1] = (value >>> 8) & 0xff;
	bytes[at + 2] = (value >>> 16) & 0xff;
	bytes[at + 3] = (value >>> 24) & 0xff;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The CRC of a format-2 record: every byte but the CRC field's own. */
function recordCrc(bytes: Uint8Array, end: number): number {
	return crc32(bytes.subarray(16, end), crc32(bytes.subarray(0, 12)));
}

/** A format-2 record's bytes (count 0 for a factory copy). */
export function encodeRecord(status: "good" | "trial", count: number, body: Record<string, unknown>): Uint8Array {
	if (!Number.isInteger(count) || count < 0 || count > 0xffffffff)
		throw new RangeError(`config record: count ${count} is not 0 to 2^32 - 1`);
	const json = encodeUtf8(JSON.stringify(body));
	const bytes = new Uint8Array(HEADER_BYTES + json.length);
	bytes.set(RECORD_MAGIC, 0);
	bytes[4] = RECORD_FORMAT;
	bytes[5] = status === "good" ? STATUS_GOOD : STATUS_TRIAL;
	put32(bytes, 8, json.length);
	put32(bytes, 16, count);
	bytes.set(json, HEADER_BYTES);
	put32(bytes, 12, recordCrc(bytes, bytes.length));
	return bytes;
}

/** Reads a record, or says why it does not check out. */
export function decodeRecord(bytes: Uint8Array, factory = false): ConfigRecord | string {
	if (factory && bytes.length > 0 && bytes[0] === 0x7b) // "{": a bare JSON factory config (an ESP32 NVS blob)
		return bodyOf(bytes, 0, bytes.length, 0, "good", 0, false);
	if (bytes.length < LEGACY_HEADER_BYTES || RECORD_MAGIC.some((byte, i) => bytes[i] !== byte))
		return "no record header";
	const format = bytes[4]!;
	const length = le32(bytes, 8);
	if (format === 1 && factory) {
		if (bytes[5] !== 0 || LEGACY_HEADER_BYTES + length > bytes.length)
			return `a format-1 record of ${length} bytes does not fit ${bytes.length}`;
		if (crc32(bytes.subarray(LEGACY_HEADER_BYTES, LEGACY_HEADER_BYTES + length)) !== le32(bytes, 12))
			return "CRC mismatch";
		return bodyOf(bytes, LEGACY_HEADER_BYTES, LEGACY_HEADER_BYTES + length, 1, "good", 0, false);
	}
	if (format !== RECORD_FORMAT)
		return `record format ${format}; this version reads format ${RECORD_FORMAT}${factory ? " and 1" : ""}`;
	if (bytes.length < HEADER_BYTES || HEADER_BYTES + length > bytes.length)
		return `a record of ${length} bytes does not fit ${bytes.length}`;
	if (recordCrc(bytes, HEADER_BYTES + length) !== le32(bytes, 12))
		return "CRC mismatch";
	const status = bytes[5] === STATUS_GOOD ? "good" : bytes[5] === STATUS_TRIAL ? "trial" : undefined;
	if (!status)
		return `record status ${bytes[5]} is neither good nor trial`;
	return bodyOf(bytes, HEADER_BYTES, HEADER_BYTES + length, 2, status, le32(bytes, 16), true);
}

function bodyOf(bytes: Uint8Array, start: number, end: number, format: 0 | 1 | 2, status: "good" | "trial", count: number, wrapped: boolean): ConfigRecord | string {
	const text = decodeUtf8(bytes.subarray(start, end));
	if (text === undefined)
		return "the JSON is not UTF-8";
	let value: unknown;
	try {
		value = JSON.parse(text);
	}
	catch {
		return "the JSON does not parse";
	}
	if (!isObject(value))
		return "the JSON is not an object";
	if (!wrapped)
		return { format, status, count, sequence: 0, config: value, body: { schema: BODY_SCHEMA, sequence: 0, config: value } };
	const sequence = value.sequence;
	if (!isObject(value.config) || !Number.isSafeInteger(sequence) || (sequence as number) < 0)
		return "the body has no config or no sequence";
	return { format, status, count, sequence: sequence as number, config: value.config, body: value };
}

/** The config a device runs, and where it comes from. */
export interface LoadedConfig {
	config: DeviceConfig;
	/** the raw config, identity included, with fields this version does not know */
	raw: Record<string, unknown>;
	/** the body of the record it came from */
	body: Record<string, unknown>;
	/** the sequence of the document it came from; 0 for a factory config */
	sequence: number;
	source: ConfigSource;
	area: ConfigArea;
	/** the record's count (0 for the factory copy) */
	count: number;
	/** the config is on trial: written for a document whose trial has not passed */
	trial: boolean;
	/** areas that hold something that does not check out, and why */
	damaged: { area: ConfigArea; why: string }[];
	/** the highest count of any intact working copy, or confirmed: a new copy gets a higher one */
	topCount: number;
}

/** Reads the copies and chooses: the newest intact working copy whose config is valid, else the factory copy. The
 * identity comes from the factory copy whenever it is readable. Returns undefined when nothing was ever provisioned
 * (every area blank); throws ConfigError when no copy is usable. */
export function loadConfig(flash: ConfigFlash, records: Records, sha256: Sha256): LoadedConfig | undefined {
	const damaged: { area: ConfigArea; why: string }[] = [];
	const confirmed = records.configConfirmed;
	let factory: ConfigRecord | undefined;
	const factoryBytes = flash.read("factory");
	if (factoryBytes) {
		const record = decodeRecord(factoryBytes, true);
		if (typeof record === "string")
			damaged.push({ area: "factory", why: record });
		else
			factory = record;
	}
	const working: { area: WorkingArea; record: ConfigRecord }[] = [];
	let blank = !factoryBytes;
	for (const area of WORKING_AREAS) {
		const bytes = flash.read(area);
		if (!bytes)
			continue;
		blank = false;
		const record = decodeRecord(bytes);
		if (typeof record === "string")
			damaged.push({ area, why: record });
		else
			working.push({ area, record });
	}
	if (blank)
		return undefined;
	working.sort((a, b) => b.record.count - a.record.count);
	const topCount = Math.max(confirmed, ...working.map((copy) => copy.record.count));
	const identity: Record<string, unknown> = {};
	if (factory)
		for (const name of IDENTITY)
			if (factory.config[name] !== undefined)
				identity[name] = factory.config[name];
	for (const { area, record } of working) {
		const raw = { ...record.config, ...identity };
		try {
			const config = parseDeviceConfig(raw, sha256);
			const trial = record.status === "trial" && record.count > confirmed;
			return { config, raw, body: record.body, sequence: record.sequence, source: "working", area, count: record.count, trial, damaged, topCount };
		}
		catch (error) {
			if (!(error instanceof ConfigError))
				throw error;
			damaged.push({ area, why: error.message });
		}
	}
	if (!factory)
		throw new ConfigError(`device config: no usable copy (${damaged.map((d) => `${d.area}: ${d.why}`).join("; ")})`);
	return { config: parseDeviceConfig(factory.config, sha256), raw: factory.config, body: factory.body, sequence: 0,
		source: "factory", area: "factory", count: 0, trial: false, damaged, topCount };
}

/** The working area a new copy goes to: never the one the device runs from. */
export function spareArea(loaded: LoadedConfig): WorkingArea {
	if (loaded.area === "working-1")
		return "working-2";
	if (loaded.area === "working-2")
		return "working-1";
	return "working-1";
}

/** Writes `raw` (the whole new config) as a trial copy for document `sequence` into the spare working area, with
 * the identity's secrets left out and the body's unknown fields kept. Returns where and under which count. */
export function writeTrialCopy(flash: ConfigFlash, loaded: LoadedConfig, raw: Record<string, unknown>, sequence: number): { area: WorkingArea; count: number } {
	const config: Record<string, unknown> = {};
	for (const [name, value] of Object.entries(raw))
		if (!FACTORY_ONLY.includes(name))
			config[name] = value;
	const area = spareArea(loaded);
	const count = loaded.topCount + 1;
	flash.write(area, encodeRecord("trial", count, { ...loaded.body, schema: BODY_SCHEMA, sequence, config }));
	return { area, count };
}
