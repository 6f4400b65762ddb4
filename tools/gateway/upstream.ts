// A gateway's client of its upstream (the cloud server, or another gateway): the fleet simulator's transport
// (tools/fleet/transport.ts: node:https with the gateway's own key and certificate, mutual TLS, trusting only the
// upstream's CA, bounded headers, a stall timeout), a few connections of it, and on top of it what the gateway needs:
// a request read whole up to a bound and a deadline, and an image streamed to a sink. Nothing from the network is
// held beyond its bound. (Each end settles the promise before it aborts the request: the abort's own "aborted" must
// not be taken for the reason.)
import { NodeTransport } from "../fleet/transport.js";
import type { Headers } from "../../modules/fota/ports.js";

/** The upstream could not be asked: no connection, a cut, a timeout. */
export class UpstreamUnreachable extends Error {}

export interface Answer {
	status: number;
	headers: Headers;
	body: Buffer;
}

export interface UpstreamOptions {
	url: string;
	ca: string;
	key: string;
	cert: string;
	timeoutSeconds: number;
	/** connections kept to the upstream (default 4) */
	connections?: number;
}

export class Upstream {
	readonly url: string;
	readonly #transports: NodeTransport[];
	readonly #timeoutMs: number;
	#next = 0;
	/** image body bytes received, for tests and benchmarks */
	imageBytes = 0;

	constructor(options: UpstreamOptions) {
		this.url = options.url;
		this.#timeoutMs = options.timeoutSeconds * 1000;
		this.#transports = Array.from({ length: options.connections ?? 4 },
			() => new NodeTransport({ ca: options.ca, clientKey: options.key, clientCertificates: options.cert }));
	}

	close(): void {
		for (const transport of this.#transports)
			transport.close();
	}

	#transport(): NodeTransport {
		return this.#transports[this.#next++ % this.#transports.length]!;
	}

	/** One request, its body read whole up to maxBytes, within deadlineMs. UpstreamUnreachable when no answer came;
	 * an Error naming the request when the answer broke its bounds. */
	fetch(path: string, options: { method?: "GET" | "POST"; headers?: [string, string][]; body?: string; maxBytes: number; deadlineMs?: number }): Promise<Answer> {
		const what = `${options.method ?? "GET"} ${this.url}${path}`;
		return new Promise((resolve, reject) => {
			let status = 0, headers: Headers = {};
			const chunks: Buffer[] = [];
			let size = 0, settled = false;
			const settle = (error?: Error) => {
				if (settled)
					return;
				settled = true;
				clearTimeout(deadline);
				if (error)
					reject(error);
				else
					resolve({ status, headers, body: Buffer.concat(chunks) });
			};
			const request = this.#transport().request({ url: `${this.url}${path}`, method: options.method ?? "GET", headers: options.headers ?? [],
				...(options.body !== undefined ? { body: options.body } : {}), timeout: this.#timeoutMs }, {
				response(code, answered) {
					status = code;
					headers = answered;
				},
				data(chunk) {
					size += chunk.length;
					if (size > options.maxBytes) {
						settle(new Error(`${what}: the answer is longer than ${options.maxBytes} bytes`));
						request.abort();
						return;
					}
					chunks.push(Buffer.from(chunk));
				},
				done(error) {
					settle(error === undefined ? undefined : new UpstreamUnreachable(`${what}: ${error}`));
				},
			});
			const deadline = setTimeout(() => {
				settle(new UpstreamUnreachable(`${what}: no whole answer within ${options.deadlineMs} ms`));
				request.abort();
			}, options.deadlineMs ?? 30000);
		});
	}

	/** Streams an image: `response` gets the status and headers and says whether to take the body (false: the request is
	 * ended), `data` each piece (it throws to stop). Resolves at the body's end; UpstreamUnreachable on a cut, past the
	 * deadline, or when fewer than minRate bytes a second came over a window (a drip would hold the fetch for ever). */
	stream(path: string, headers: [string, string][], sink: { response(status: number, headers: Headers): boolean; data(chunk: Uint8Array): void },
		options: { deadlineMs?: number; minRateBytesPerSecond?: number; windowMs?: number } = {}): Promise<void> {
		const what = `GET ${this.url}${path}`;
		const { deadlineMs = 600000, minRateBytesPerSecond = 64, windowMs = 30000 } = options;
		return new Promise((resolve, reject) => {
			let settled = false;
			let windowBytes = 0;
			const settle = (error?: Error) => {
				if (settled)
					return;
				settled = true;
				clearTimeout(deadline);
				clearInterval(rate);
				if (error) reject(error); else resolve();
			};
			const rate = setInterval(() => {
				if (windowBytes < (minRateBytesPerSecond * windowMs) / 1000) {
					settle(new UpstreamUnreachable(`${what}: ${windowBytes} bytes in ${windowMs} ms, under ${minRateBytesPerSecond} bytes a second`));
					request.abort();
				}
				windowBytes = 0;
			}, windowMs);
			const request = this.#transport().request({ url: `${this.url}${path}`, headers, timeout: this.#timeoutMs }, {
				response: (status, answered) => {
					if (!sink.response(status, answered)) {
						settle();
						request.abort();
					}
				},
				data: (chunk) => {
					if (settled)
						return;
					try {
						sink.data(chunk);
						this.imageBytes += chunk.length;
						windowBytes += chunk.length;
					} catch (error) {
						settle(error as Error);
						request.abort();
					}
				},
				done: (error) => settle(error === undefined ? undefined : new UpstreamUnreachable(`${what}: ${error}`)),
			});
			const deadline = setTimeout(() => {
				settle(new UpstreamUnreachable(`${what}: not done within ${deadlineMs} ms`));
				request.abort();
			}, deadlineMs);
		});
	}
}
