// Images: a firmware build behind a 128-byte header (format in README, "The simulated board"; the reader is
// hosts/sim/c/board/image.c). A "sim" image holds one build's compiled modules; a "lin" image holds an mc.so for
// Moddable's desktop simulator. In a sim image, modules are named by their path under the build root
// without ".js"; bare specifiers become aliases. Only what the entry imports, directly or not, goes in.
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";
import { crc32 } from "../../modules/fota/crc32.js";

export const IMAGE_MAGIC = "XSFI";
export const IMAGE_HEADER = 128;

export interface ImageOptions {
	map: Record<string, string>; // bare specifier -> compiled .js file (build/sim/modules.json)
	entry: string;               // a bare specifier from the map, or a .js file
	version: string;
	root: string;                // the build root (build/js); module names are paths under it
	include?: string[];          // more .js files to carry even if nothing imports them
}

const IMPORT = /(?:^|[;\s}])(?:import|export)\s*(?:[\w*{}\s,$]*?\sfrom\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

function nameOf(root: string, file: string): string {
	const path = relative(root, file);
	if (path.startsWith("..") || path.startsWith(sep))
		throw new Error(`image: ${file} is outside the build root ${root}`);
	return path.split(sep).join("/").replace(/\.js$/, "");
}

export function buildImage({ map, entry, version, root, include = [] }: ImageOptions): Buffer {
	checkVersion(version);
	const modules = new Map<string, string>(); // name -> source
	const aliases = new Map<string, string>(); // specifier -> name
	const visit = (file: string): string => {
		const name = nameOf(root, file);
		if (modules.has(name))
			return name;
		const source = readFileSync(file, "utf8");
		modules.set(name, source);
		for (const match of source.matchAll(IMPORT)) {
			const specifier = match[1] ?? match[2];
			if (specifier.startsWith("./") || specifier.startsWith("../"))
				visit(resolve(dirname(file), specifier.endsWith(".js") ? specifier : specifier + ".js"));
			else if (!aliases.has(specifier)) {
				if (!(specifier in map))
					throw new Error(`image: ${name} imports "${specifier}", which is not in the module map`);
				aliases.set(specifier, visit(map[specifier]));
			}
		}
		return name;
	};
	let entryName: string;
	if (entry in map) {
		aliases.set(entry, visit(map[entry]));
		entryName = entry;
	} else
		entryName = visit(resolve(entry));
	for (const file of include)
		visit(resolve(file));
	if (Buffer.byteLength(entryName) > 32)
		throw new Error(`image: the entry's name "${entryName}" is longer than 32 bytes; give it a bare specifier`);
	const records: Buffer[] = [];
	const record = (kind: number, name: string, data: Buffer) => {
		const head = Buffer.alloc(8);
		head[0] = kind;
		head.writeUInt16LE(Buffer.byteLength(name), 2);
		head.writeUInt32LE(data.length, 4);
		records.push(head, Buffer.from(name), data);
	};
	for (const [name, source] of modules)
		record(1, name, Buffer.from(source));
	for (const [specifier, name] of aliases)
		record(2, specifier, Buffer.from(name));
	return wrap(Buffer.concat(records), modules.size + aliases.size, entryName, version, "sim");
}

function checkVersion(version: string): void {
	if (Buffer.byteLength(version) > 32 || !/^[\x20-\x7e]*$/.test(version))
		throw new Error("image: the version must be at most 32 printable ASCII characters");
}

/** The 128-byte header before a body (layout in hosts/sim/c/board/image.c). A "sim" kind is written as zeros. */
function wrap(body: Buffer, count: number, entry: string, version: string, kind: string): Buffer {
	if (!/^[a-z0-9]{1,8}$/.test(kind))
		throw new Error(`image: the kind must be 1 to 8 lower-case letters and digits, not ${JSON.stringify(kind)}`);
	const header = Buffer.alloc(IMAGE_HEADER);
	header.write(IMAGE_MAGIC, 0, "ascii");
	header.writeUInt16LE(1, 4);
	header.writeUInt16LE(IMAGE_HEADER, 6);
	header.writeUInt32LE(body.length, 8);
	header.writeUInt32LE(count, 12);
	createHash("sha256").update(body).digest().copy(header, 16);
	header.write(entry, 48, 32, "ascii");
	header.write(version, 80, 32, "ascii");
	if (kind !== "sim")
		header.write(kind, 112, 8, "ascii");
	header.writeUInt32LE(crc32(header.subarray(0, 124)), 124);
	return Buffer.concat([header, body]);
}

/** A "lin" image: an mc.so that mcconfig built for Moddable's desktop simulator, gzip-compressed so that a debug
 * build fits an ESP32-sized slot, behind our header. `xs-fota mcsim` unpacks the booted slot's mc.so. */
export function buildLinImage(mcso: Buffer, version: string): Buffer {
	checkVersion(version);
	if (mcso.length < 4 || mcso.readUInt32BE(0) !== 0x7f454c46)
		throw new Error("image: a lin image wraps an mc.so (an ELF shared object), and this is not one");
	return wrap(gzipSync(mcso, { level: 9 }), 0, "main", version, "lin");
}

/** The mc.so inside a "lin" image's body. */
export function linSharedObject(body: Buffer): Buffer {
	return gunzipSync(body);
}

export interface ImageInfo {
	entry: string;
	version: string;
	kind: string;
	bodySize: number;
	names: string[];
}

/** Reads an image's 128-byte header alone (its magic and CRC checked, not its body): what a bootloader reads first. */
export function readImageHeader(header: Buffer): Omit<ImageInfo, "names"> {
	if (header.length < IMAGE_HEADER || header.toString("ascii", 0, 4) !== IMAGE_MAGIC)
		throw new Error("image: bad magic");
	if (crc32(header.subarray(0, 124)) !== header.readUInt32LE(124))
		throw new Error("image: header CRC mismatch");
	const text = (at: number, length = 32) => header.toString("ascii", at, at + length).replace(/\0+$/, "");
	return { entry: text(48), version: text(80), kind: text(112, 8) || "sim", bodySize: header.readUInt32LE(8) };
}

/** Reads an image's header and record names; throws on any inconsistency. */
export function readImage(image: Buffer): ImageInfo {
	const { entry, version, kind, bodySize } = readImageHeader(image);
	const body = image.subarray(IMAGE_HEADER, IMAGE_HEADER + bodySize);
	if (body.length !== bodySize || !createHash("sha256").update(body).digest().equals(image.subarray(16, 48)))
		throw new Error("image: body SHA-256 mismatch");
	const names: string[] = [];
	for (let at = 0; kind === "sim" && at < body.length;) {
		const nameLength = body.readUInt16LE(at + 2), dataLength = body.readUInt32LE(at + 4);
		names.push(body.toString("utf8", at + 8, at + 8 + nameLength));
		at += 8 + nameLength + dataLength;
	}
	return { entry, version, kind, bodySize, names };
}
