// The releases directory: releases/<product>/manifest.xfm and the files it points to, served as they are.
// ETags are strong: the SHA-256 of the content, so a byte range of one version is never mixed with another.
import { createHash } from "node:crypto";
import { openSync, readSync, closeSync, statSync, readFileSync, realpathSync } from "node:fs";
import { join, resolve, sep } from "node:path";

export interface ServedFile {
	path: string;
	size: number;
	etag: string;
	mtimeMs: number;
}

export class Releases {
	readonly root: string;
	readonly #etags = new Map<string, { mtimeMs: number; size: number; etag: string }>();

	constructor(root: string) {
		this.root = realpathSync(root);
	}
	/** The file for /v1/products/<product>/<rest>, or undefined; never anything outside the root. */
	find(product: string, rest: string): ServedFile | undefined {
		if (!/^[\w.-]+$/.test(product) || rest.split("/").some((part) => part === ".." || part === "." || part === ""))
			return undefined;
		const path = resolve(this.root, product, rest);
		if (!path.startsWith(this.root + sep))
			return undefined;
		let stat;
		try {
			stat = statSync(path);
		} catch {
			return undefined;
		}
		if (!stat.isFile())
			return undefined;
		return { path, size: stat.size, mtimeMs: stat.mtimeMs, etag: this.#etag(path, stat.mtimeMs, stat.size) };
	}
	manifest(product: string): ServedFile | undefined {
		return this.find(product, "manifest.xfm");
	}
	#etag(path: string, mtimeMs: number, size: number): string {
		const cached = this.#etags.get(path);
		if (cached && cached.mtimeMs === mtimeMs && cached.size === size)
			return cached.etag;
		const etag = `"${createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 32)}"`;
		this.#etags.set(path, { mtimeMs, size, etag });
		return etag;
	}
}

/** Reads [start, end] of a file in pieces. */
export function* readRange(path: string, start: number, end: number, piece = 64 * 1024): Generator<Buffer> {
	const fd = openSync(path, "r");
	try {
		for (let at = start; at <= end; ) {
			const buffer = Buffer.allocUnsafe(Math.min(piece, end - at + 1));
			const read = readSync(fd, buffer, 0, buffer.length, at);
			if (read <= 0)
				return;
			yield buffer.subarray(0, read);
			at += read;
		}
	} finally {
		closeSync(fd);
	}
}

export const MANIFEST_FILE = "manifest.xfm";
export function releaseDir(root: string, product: string): string {
	return join(root, product);
}
