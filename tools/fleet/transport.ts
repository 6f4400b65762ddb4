// The transport port in Node, for the fleet simulator's virtual devices: node:https over a keep-alive Agent of the
// device's own (one connection, as a device has), presenting the device's key and certificate (mutual TLS) and
// trusting only the server's CA from the device config. Like the other transports, `timeout` bounds the connect
// and every stall, the body streams to the sink as it arrives, and the response's headers are bounded
// (modules/fota/protocol.ts). Every request is counted in a RequestLog, for the fleet's summary and benchmark.
import { Agent, request as httpsRequest } from "node:https";
import { createSecureContext } from "node:tls";
import type { IncomingMessage } from "node:http";
import { deviceRoute, MAX_HEADERS, MAX_HEADER_BYTES } from "../../modules/fota/protocol.js";
import type { Headers, HttpRequest, ResponseSink, Transport } from "../../modules/fota/ports.js";

export interface TlsIdentity {
	/** PEM: the CA that signed the server's certificate (the only one trusted). */
	ca: string;
	/** PEM: the device's private key and certificate, for mutual TLS. */
	clientKey: string;
	clientCertificates: string;
}

/** What a request was for, from its path: the device routes, or "other". */
export type RequestKind = "manifest" | "file" | "report" | "config" | "other";

/** Requests of a whole fleet: how many began in each second, and how long each took to its response's end. */
export class RequestLog {
	/** when the seconds of perSecond count from (performance.now()) */
	origin = performance.now();
	/** requests begun in each second since the origin */
	readonly perSecond: number[] = [];
	/** polls (manifest fetches) begun in each second since the origin */
	readonly pollsPerSecond: number[] = [];
	readonly counts: Record<RequestKind, number> = { manifest: 0, file: 0, report: 0, config: 0, other: 0 };
	/** when the first request of each kind began (performance.now()) */
	readonly firstAt: Partial<Record<RequestKind, number>> = {};
	failures = 0;
	/** the failures' messages, counted, the commonest first when read through failureReasons() */
	readonly #reasons = new Map<string, number>();
	/** latencies of manifest fetches and reports (the check-ins), ms, in the order they ended */
	#latencies = new Float64Array(1024);
	#count = 0;

	began(kind: RequestKind, at = performance.now()): void {
		this.counts[kind]++;
		this.firstAt[kind] ??= at;
		const second = Math.floor((at - this.origin) / 1000);
		for (const buckets of kind === "manifest" ? [this.perSecond, this.pollsPerSecond] : [this.perSecond]) {
			while (buckets.length <= second)
				buckets.push(0);
			buckets[second]!++;
		}
	}
	ended(kind: RequestKind, ms: number, error?: string): void {
		if (error !== undefined) {
			this.failures++;
			const reason = error.replace(/\d+/g, "N").slice(0, 80);
			this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
			return;
		}
		if (kind !== "manifest" && kind !== "report")
			return;
		if (this.#count === this.#latencies.length) {
			const grown = new Float64Array(this.#count * 2);
			grown.set(this.#latencies);
			this.#latencies = grown;
		}
		this.#latencies[this.#count++] = ms;
	}
	/** Check-ins that ended well. */
	get checkins(): number {
		return this.#count;
	}
	/** The q-quantile (0..1) of the check-ins' latencies since the check-in numbered from (all by default), ms. */
	latency(q: number, from = 0): number {
		const part = this.#latencies.slice(from, this.#count).sort();
		return part.length ? part[Math.min(part.length - 1, Math.ceil(part.length * q) - 1)]! : 0;
	}
	failureReasons(): [string, number][] {
		return [...this.#reasons].sort((a, b) => b[1] - a[1]);
	}
}

function kindOf(url: URL, method: string): RequestKind {
	return deviceRoute(method, url.pathname)?.kind ?? "other";
}

export class NodeTransport implements Transport {
	readonly #agent: Agent;
	readonly #log: RequestLog | undefined;

	constructor(identity: TlsIdentity, log?: RequestLog) {
		this.#log = log;
		// one connection, kept between requests; TLS sessions are resumed, as a device's TLS stack may; the TLS context
		// (the key, the certificate, the CA) is made once: made for each new connection, it was most of the fleet's work
		const secureContext = createSecureContext({ key: identity.clientKey, cert: identity.clientCertificates, ca: identity.ca });
		this.#agent = new Agent({ keepAlive: true, maxSockets: 1, maxCachedSessions: 1, secureContext });
	}

	/** Ends the device's connection. */
	close(): void {
		this.#agent.destroy();
	}

	request(request: HttpRequest, sink: ResponseSink): { abort(): void } {
		const url = new URL(request.url);
		const method = request.method ?? "GET";
		const kind = kindOf(url, method);
		const started = performance.now();
		this.#log?.began(kind, started);
		let finished = false, answered = false;
		let stall: ReturnType<typeof setTimeout> | undefined;
		let outgoing: ReturnType<typeof httpsRequest> | undefined;
		const finish = (error?: string) => {
			if (finished)
				return;
			finished = true;
			clearTimeout(stall);
			if (error !== undefined)
				outgoing?.destroy();
			// the device's own abort after an answer (a 503 read, a body too long) is not a failed request
			this.#log?.ended(kind, performance.now() - started, error === "aborted" && answered ? undefined : error);
			sink.done(error);
		};
		// one timer for the connect and every stall: each sign of life restarts it
		const alive = () => {
			clearTimeout(stall);
			stall = setTimeout(() => finish(`no data for ${request.timeout} ms`), Math.max(1, request.timeout));
		};
		const safely = (fn: () => void) => {
			if (finished)
				return;
			try {
				fn();
			} catch (error) {
				finish(`response handling failed: ${(error as Error).message}`);
			}
		};
		const send = (retry: boolean) => {
			const headers: Record<string, string | number> = {};
			for (const [name, value] of request.headers ?? [])
				headers[name] = value;
			if (request.body !== undefined)
				headers["content-length"] = Buffer.byteLength(request.body);
			const sent = httpsRequest(url, { method, headers, agent: this.#agent, maxHeaderSize: MAX_HEADER_BYTES }, (response: IncomingMessage) => {
				safely(() => {
					alive();
					if (response.rawHeaders.length / 2 > MAX_HEADERS)
						return finish(`response headers exceed ${MAX_HEADERS} lines or ${MAX_HEADER_BYTES} bytes`);
					const flat: Headers = {};
					for (const [name, value] of Object.entries(response.headers))
						if (value !== undefined)
							flat[name] = Array.isArray(value) ? value.join(", ") : value;
					answered = true;
					sink.response(response.statusCode ?? 0, flat);
				});
				response.on("data", (chunk: Buffer) => safely(() => {
					alive();
					sink.data(chunk);
				}));
				response.on("end", () => finish());
				response.on("close", () => {
					if (!response.complete)
						finish("the response was cut short");
				});
				response.on("error", (error) => finish(error.message));
			});
			sent.on("error", (error: NodeJS.ErrnoException) => {
				// a kept connection the server closed as we sent on it: once more on a new one (what Node advises)
				if (!retry && sent.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE") && !finished) {
					outgoing = send(true);
					return;
				}
				finish(`connection to ${url.host} failed or was cut (${error.code ?? error.message})`);
			});
			sent.end(request.body);
			return sent;
		};
		alive();
		outgoing = send(false);
		return { abort: () => finish("aborted") };
	}
}
