// A gateway's image cache: each image is fetched from the upstream once (one fetch at a time per image, however many
// devices want it), resumably (the partial file and the upstream's ETag survive a restart; a resume asks with Range and
// If-Range), never past its signed size, and verified (signed size and SHA-256, from a manifest the gateway verified
// with the vendor's key) before it is renamed into the served folder. Only files in that folder are ever served; at
// start every one is hashed again and dropped if it does not match its name, so a torn or altered file is never
// served. The cache is bounded: after an image is added, the least recently served ones that are not being served
// go, those no device's manifest names first.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { readRange } from "../server/files.js";
import type { GatewayState } from "./state.js";
import { UpstreamUnreachable, type Upstream } from "./upstream.js";
import { GATEWAY_FOR_HEADER, GATEWAY_VIA_HEADER } from "../../modules/fota/protocol.js";
import type { UpdateManifest } from "../../modules/fota/manifest.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Attempts of one fetch before it is given up until a device asks again. */
const ATTEMPTS = 5;
/** An ETag we keep and send back in If-Range: a quoted strong tag, bounded. */
const ETAG = /^"[\x21\x23-\x7e]{1,128}"$/;

export interface CacheOptions {
	dir: string;
	state: GatewayState;
	upstream: Upstream;
	maxBytes: number;
	log: (line: string) => void;
}

/** Who the image is fetched for: the upstream decides whether that device may have it. */
export interface FetchFor {
	deviceId: string;
	via: string[];
	/** for the gateway itself (its own software): asked in its own name, no x-fota-for */
	own?: boolean;
}

export class ImageCache {
	readonly #options: CacheOptions;
	readonly #ready = new Set<string>();
	readonly #fetching = new Map<string, Promise<void>>();
	readonly #inUse = new Map<string, number>();
	/** the last failure of each image's fetch, for the logs and the devices' 503 */
	readonly failures = new Map<string, string>();

	constructor(options: CacheOptions) {
		this.#options = options;
	}

	get #served(): string {
		return join(this.#options.dir, "images");
	}
	get #partial(): string {
		return join(this.#options.dir, "partial");
	}

	path(sha256: string): string {
		if (!SHA256_HEX.test(sha256))
			throw new RangeError(`not a SHA-256: ${sha256}`);
		return join(this.#served, sha256);
	}

	/** Checks what is on the disk against the index: every served file hashed again (dropped unless it matches its
	 * name and the size the index signs), stray files removed. */
	async open(): Promise<void> {
		mkdirSync(this.#served, { recursive: true });
		mkdirSync(this.#partial, { recursive: true });
		const rows = new Map((await this.#options.state.images()).map((row) => [row.sha256, row]));
		for (const name of readdirSync(this.#served)) {
			const row = rows.get(name);
			const path = join(this.#served, name);
			if (!row || !row.complete || statSync(path).size !== row.size || hashFile(path, row.size) !== name) {
				this.#options.log(`cache: ${name} does not verify or is not indexed; removed`);
				rmSync(path, { force: true });
				if (row?.complete)
					await this.#options.state.putImage({ ...row, complete: false });
				continue;
			}
			this.#ready.add(name);
		}
		for (const row of rows.values())
			if (row.complete && !this.#ready.has(row.sha256))
				await this.#options.state.putImage({ ...row, complete: false });
		for (const name of readdirSync(this.#partial))
			if (!name.endsWith(".part") || !rows.has(name.slice(0, -5)))
				rmSync(join(this.#partial, name), { force: true });
	}

	/** Whether the image is verified and in the cache. */
	ready(sha256: string): boolean {
		return this.#ready.has(sha256);
	}

	/** The bytes of verified images in the cache. */
	async bytes(): Promise<number> {
		return (await this.#options.state.images()).filter((row) => row.complete && this.#ready.has(row.sha256)).reduce((sum, row) => sum + row.size, 0);
	}

	/** Marks a verified image as being served until the returned function is called: it is not evicted meanwhile. */
	use(sha256: string): () => void {
		this.#inUse.set(sha256, (this.#inUse.get(sha256) ?? 0) + 1);
		void this.#options.state.touchImage(sha256, Date.now()).catch(() => {});
		let done = false;
		return () => {
			if (done)
				return;
			done = true;
			const left = (this.#inUse.get(sha256) ?? 1) - 1;
			if (left > 0)
				this.#inUse.set(sha256, left);
			else
				this.#inUse.delete(sha256);
		};
	}

	/** Fetches the image the (verified) manifest names, unless it is cached or being fetched; resolves when it is
	 * ready, rejects when it could not be had (the reason is also kept in failures). */
	ensure(product: string, manifest: UpdateManifest, path: string, on: FetchFor): Promise<void> {
		const sha256 = manifest.image.sha256;
		if (this.#ready.has(sha256))
			return Promise.resolve();
		let running = this.#fetching.get(sha256);
		if (!running) {
			running = this.#fetch(product, manifest, path, on).finally(() => this.#fetching.delete(sha256));
			this.#fetching.set(sha256, running);
			running.catch((error) => {
				this.failures.set(sha256, (error as Error).message);
				this.#options.log(`cache: ${manifest.image.url} (${sha256.slice(0, 12)}): ${(error as Error).message}`);
			});
		}
		return running;
	}

	async #fetch(product: string, manifest: UpdateManifest, path: string, on: FetchFor): Promise<void> {
		const { size, sha256, url } = manifest.image;
		if (size > this.#options.maxBytes)
			throw new Error(`fetch ${url}: ${size} bytes do not fit the cache (${this.#options.maxBytes} bytes)`);
		const state = this.#options.state;
		const part = join(this.#partial, `${sha256}.part`);
		let row = await state.image(sha256) ?? { sha256, size, product, url, etag: undefined, complete: false, lastUsed: Date.now() };
		await state.putImage(row);
		let offset = existsSync(part) ? statSync(part).size : 0;
		if (offset > size || (offset > 0 && row.etag === undefined)) { // more than signed, or nothing to resume under
			truncateSync(part, 0);
			offset = 0;
		}
		const headers: [string, string][] = on.own ? [] : [[GATEWAY_FOR_HEADER, on.deviceId], ...(on.via.length ? [[GATEWAY_VIA_HEADER, on.via.join(",")] as [string, string]] : [])];
		let lastError = "";
		for (let attempt = 0; attempt < ATTEMPTS && offset < size; attempt++) {
			const ranged = offset > 0 && row.etag !== undefined;
			const fd = openSync(part, existsSync(part) ? "r+" : "w");
			let wait = 0;
			try {
				await this.#options.upstream.stream(path, [...headers, ...(ranged ? [["range", `bytes=${offset}-`], ["if-range", row.etag!]] as [string, string][] : [])], {
					response: (status, answered) => {
						if (status === 503) {
							wait = Math.min(30, Math.max(1, Number(answered["retry-after"]) || 2));
							lastError = `503 ${answered["retry-after"] ? `retry after ${answered["retry-after"]} s` : ""}`;
							return false;
						}
						if (status !== 200 && status !== 206) {
							lastError = `the upstream answered ${status}`;
							throw new Error(`fetch ${url} for ${on.deviceId}: the upstream answered ${status}`);
						}
						if (status === 206) {
							const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(answered["content-range"] ?? "");
							if (!range || Number(range[1]) !== offset || Number(range[3]) !== size)
								throw new Error(`fetch ${url}: Content-Range ${answered["content-range"]} is not the rest of ${size} bytes from ${offset}`);
						} else if (offset > 0) { // the whole body: start over
							truncateSync(part, 0);
							offset = 0;
						}
						const etag = answered.etag;
						row = { ...row, etag: etag && ETAG.test(etag) ? etag : undefined };
						void state.putImage(row).catch(() => {});
						return true;
					},
					data: (chunk) => {
						if (offset + chunk.length > size)
							throw new Error(`fetch ${url}: the upstream sent more than the signed ${size} bytes`);
						writeSync(fd, chunk, 0, chunk.length, offset);
						offset += chunk.length;
					},
				});
			} catch (error) {
				lastError = (error as Error).message;
				if (!(error instanceof UpstreamUnreachable) && !/503/.test(lastError))
					wait = 1;
				else
					wait ||= 2;
			} finally {
				fsyncSync(fd);
				closeSync(fd);
			}
			if (offset < size && wait > 0)
				await new Promise((resolve) => setTimeout(resolve, wait * 1000));
		}
		if (offset < size)
			throw new Error(`fetch ${url} for ${on.deviceId}: ${offset} of ${size} bytes after ${ATTEMPTS} attempts (${lastError})`);
		const digest = hashFile(part, size);
		if (digest !== sha256) {
			rmSync(part, { force: true });
			await state.putImage({ ...row, etag: undefined, complete: false });
			throw new Error(`fetch ${url}: digest-mismatch: the upstream's image hashes to ${digest}, the signed manifest says ${sha256}; not served, fetched again at the next ask`);
		}
		await this.#evict(size, sha256);
		renameSync(part, this.path(sha256));
		this.#ready.add(sha256);
		this.failures.delete(sha256);
		await state.putImage({ ...row, complete: true, lastUsed: Date.now() });
		this.#options.log(`cache: ${url} (${size} bytes, SHA-256 ${sha256.slice(0, 12)}…) fetched and verified`);
	}

	/** Makes room for `incoming` bytes: the least recently served images go, those no device's manifest names first,
	 * never one being served. */
	async #evict(incoming: number, keep: string): Promise<void> {
		const rows = (await this.#options.state.images()).filter((row) => row.complete && this.#ready.has(row.sha256) && row.sha256 !== keep);
		let total = rows.reduce((sum, row) => sum + row.size, 0) + incoming;
		if (total <= this.#options.maxBytes)
			return;
		const wanted = await this.#options.state.wantedImages();
		const order = [...rows.filter((row) => !wanted.has(row.sha256)), ...rows.filter((row) => wanted.has(row.sha256))];
		for (const row of order) {
			if (total <= this.#options.maxBytes)
				break;
			if (this.#inUse.has(row.sha256))
				continue;
			this.#ready.delete(row.sha256);
			rmSync(this.path(row.sha256), { force: true });
			await this.#options.state.dropImage(row.sha256);
			total -= row.size;
			this.#options.log(`cache: evicted ${row.url} (${row.sha256.slice(0, 12)}…, ${row.size} bytes)`);
		}
	}
}

/** The SHA-256 (hex) of a file's first `size` bytes, read in pieces. */
export function hashFile(path: string, size: number): string {
	const hash = createHash("sha256");
	if (size > 0)
		for (const piece of readRange(path, 0, size - 1))
			hash.update(piece);
	return hash.digest("hex");
}
