// Sim images: one firmware build's compiled modules behind a 128-byte header (format in README, "The simulated
// board"; the reader is hosts/sim/c/board/image.c). Modules are named by their path under the build root
// without ".js"; bare specifiers become aliases. Only what the entry imports, directly or not, goes in.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";
import { crc32 } from "./crc32.js";

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
	if (Buffer.byteLength(version) > 32 || !/^[\x20-\x7e]*$/.test(version))
		throw new Error("image: the version must be at most 32 printable ASCII characters");
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
	const body = Buffer.concat(records);
	const header = Buffer.alloc(IMAGE_HEADER);
	header.write(IMAGE_MAGIC, 0, "ascii");
	header.writeUInt16LE(1, 4);
	header.writeUInt16LE(IMAGE_HEADER, 6);
	header.writeUInt32LE(body.length, 8);
	header.writeUInt32LE(modules.size + aliases.size, 12);
	createHash("sha256").update(body).digest().copy(header, 16);
	header.write(entryName, 48, 32, "ascii");
	header.write(version, 80, 32, "ascii");
	header.writeUInt32LE(crc32(header.subarray(0, 124)), 124);
	return Buffer.concat([header, body]);
}

export interface ImageInfo {
	entry: string;
	version: string;
	bodySize: number;
	names: string[];
}

/** Reads an image's header and record names; throws on any inconsistency. */
export function readImage(image: Buffer): ImageInfo {
	if (image.length < IMAGE_HEADER || image.toString("ascii", 0, 4) !== IMAGE_MAGIC)
		throw new Error("image: bad magic");
	if (crc32(image.subarray(0, 124)) !== image.readUInt32LE(124))
		throw new Error("image: header CRC mismatch");
	const bodySize = image.readUInt32LE(8);
	const body = image.subarray(IMAGE_HEADER, IMAGE_HEADER + bodySize);
	if (body.length !== bodySize || !createHash("sha256").update(body).digest().equals(image.subarray(16, 48)))
		throw new Error("image: body SHA-256 mismatch");
	const text = (at: number) => image.toString("ascii", at, at + 32).replace(/\0+$/, "");
	const names: string[] = [];
	for (let at = 0; at < body.length;) {
		const nameLength = body.readUInt16LE(at + 2), dataLength = body.readUInt32LE(at + 4);
		names.push(body.toString("utf8", at + 8, at + 8 + nameLength));
		at += 8 + nameLength + dataLength;
	}
	return { entry: text(48), version: text(80), bodySize, names };
}
