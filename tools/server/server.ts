// The update server: signed releases over HTTPS with Range, ETag and If-Range, and device check-ins.
//   GET  /v1/products/<product>/manifest[?device=ID]   the product's signed manifest
//   GET  /v1/products/<product>/<path>                 files of the release (images), with Range
//   POST /v1/devices/<id>/report                       a device's check-in (JSON)
//   GET  /v1/devices                                    the inventory (JSON)
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { answerRange } from "./range.js";
import { Inventory, ReportError } from "./inventory.js";
import { Releases, readRange, type ServedFile } from "./releases.js";

export interface ServerOptions {
	releases: string;
	cert: string | Buffer;
	key: string | Buffer;
	host?: string;
	port?: number;
	log?: (line: string) => void;
	/** paces every file response to this many bytes per second, like the link of a device */
	rateBytesPerSecond?: number;
}

const MAX_REPORT_BYTES = 4096;

export class UpdateServer {
	readonly releases: Releases;
	readonly inventory = new Inventory();
	/** body bytes sent per path, for tests and benchmarks */
	readonly sent = new Map<string, number>();
	readonly #server: Server;
	readonly #options: ServerOptions;

	constructor(options: ServerOptions) {
		this.#options = options;
		this.releases = new Releases(options.releases);
		this.#server = createServer({ cert: options.cert, key: options.key }, (request, response) => {
			this.#handle(request, response).catch((error) => {
				this.#log(`500 ${request.url}: ${error.message}`);
				if (!response.headersSent)
					this.#json(response, 500, { error: "internal error" });
				else
					response.destroy();
			});
		});
	}

	listen(): Promise<{ port: number; url: string }> {
		const host = this.#options.host ?? "127.0.0.1";
		return new Promise((resolve, reject) => {
			this.#server.once("error", reject);
			this.#server.listen(this.#options.port ?? 0, host, () => {
				const port = (this.#server.address() as AddressInfo).port;
				resolve({ port, url: `https://${host === "127.0.0.1" ? "localhost" : host}:${port}` });
			});
		});
	}

	close(): Promise<void> {
		return new Promise((resolve) => {
			this.#server.closeAllConnections();
			this.#server.close(() => resolve());
		});
	}

	#log(line: string): void {
		this.#options.log?.(line);
	}

	#json(response: ServerResponse, status: number, body: unknown): void {
		const text = JSON.stringify(body);
		response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
		response.end(text);
	}

	async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const url = new URL(request.url ?? "/", "https://server");
		const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
		if (request.method === "POST" && parts[0] === "v1" && parts[1] === "devices" && parts.length === 4 && parts[3] === "report")
			return this.#report(request, response, parts[2]!);
		if (request.method !== "GET" && request.method !== "HEAD")
			return this.#json(response, 405, { error: "method not allowed" });
		if (parts[0] === "v1" && parts[1] === "devices" && parts.length === 2)
			return this.#json(response, 200, this.inventory.list());
		if (parts[0] === "v1" && parts[1] === "products" && parts.length >= 4) {
			const product = parts[2]!;
			const rest = parts.slice(3).join("/");
			const file = rest === "manifest" ? this.releases.manifest(product) : this.releases.find(product, rest);
			if (!file)
				return this.#json(response, 404, { error: rest === "manifest" ? `no release for ${product}` : "not found" });
			return this.#file(request, response, file);
		}
		this.#json(response, 404, { error: "not found" });
	}

	async #file(request: IncomingMessage, response: ServerResponse, file: ServedFile): Promise<void> {
		const etag = file.etag;
		const ifRange = request.headers["if-range"];
		const answer = answerRange(file.size, request.headers.range, Array.isArray(ifRange) ? ifRange[0] : ifRange, etag);
		const headers: Record<string, string | number> = {
			"accept-ranges": "bytes",
			etag,
			"last-modified": new Date(file.mtimeMs).toUTCString(),
			"content-type": "application/octet-stream",
			"cache-control": "no-cache",
		};
		if (answer.status === 416) {
			response.writeHead(416, { ...headers, "content-range": `bytes */${file.size}` });
			return void response.end();
		}
		const length = file.size === 0 ? 0 : answer.end - answer.start + 1;
		headers["content-length"] = length;
		if (answer.status === 206)
			headers["content-range"] = `bytes ${answer.start}-${answer.end}/${file.size}`;
		response.writeHead(answer.status, headers);
		this.#log(`${answer.status} ${request.url} ${answer.status === 206 ? `${answer.start}-${answer.end}` : length}`);
		if (request.method === "HEAD" || length === 0)
			return void response.end();
		const key = new URL(request.url ?? "/", "https://server").pathname;
		const rate = this.#options.rateBytesPerSecond;
		const started = performance.now();
		let written = 0;
		for (const piece of readRange(file.path, answer.start, answer.end, rate ? 16 * 1024 : undefined)) {
			if (rate) { // never ahead of the link: wait until the bytes so far would have crossed it
				const due = started + (written / rate) * 1000 - performance.now();
				if (due > 0)
					await new Promise((resolve) => setTimeout(resolve, due));
				written += piece.length;
			}
			if (!(await this.#write(response, piece)))
				return;
			this.sent.set(key, (this.sent.get(key) ?? 0) + piece.length);
		}
		response.end();
	}

	#write(response: ServerResponse, data: Buffer): Promise<boolean> {
		if (response.destroyed)
			return Promise.resolve(false);
		if (response.write(data))
			return Promise.resolve(true);
		return new Promise((resolve) => {
			const done = (ok: boolean) => {
				response.off("drain", drained);
				response.off("close", closed);
				resolve(ok);
			};
			const drained = () => done(true);
			const closed = () => done(false);
			response.on("drain", drained);
			response.on("close", closed);
		});
	}

	async #report(request: IncomingMessage, response: ServerResponse, deviceId: string): Promise<void> {
		const chunks: Buffer[] = [];
		let size = 0;
		for await (const chunk of request) {
			size += chunk.length;
			if (size > MAX_REPORT_BYTES)
				return this.#json(response, 413, { error: "report too large" });
			chunks.push(chunk);
		}
		let body;
		try {
			body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
		} catch {
			return this.#json(response, 400, { error: "the report is not JSON" });
		}
		try {
			const record = this.inventory.report(deviceId, body);
			this.#log(`report ${deviceId}: ${record.state} ${record.version}${record.lastError ? ` (${record.lastError})` : ""}`);
			response.writeHead(204);
			response.end();
		} catch (error) {
			if (error instanceof ReportError)
				return this.#json(response, 400, { error: error.message });
			throw error;
		}
	}
}
