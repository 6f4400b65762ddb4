// A GET whose whole body is wanted, bounded in size before anything is parsed.
// The body is copied once, into one array: of the declared length when the server gives one within the bound (the
// usual case), grown only for a body of unknown length; no list of pieces (README, "Memory").
import { TransientError } from "./errors.js";
import { watchTransfer, type TransferLimits, type TransferWatch } from "./transfer.js";
import type { Clock, Headers, ResponseSink, Transport } from "./ports.js";

export interface Fetched {
	status: number;
	headers: Headers;
	body: Uint8Array;
}

export class TooLarge extends Error {
	override name = "TooLarge";
}

const EMPTY = new Uint8Array(0);

/** A whole-body GET under way: one object is its Promise's executor target, its response sink and its transfer
 * watch's callback, with the state in fields, so that a fetch costs this object, its Promise and its watch rather
 * than a closure per event and per bound (README, "Memory"). */
class BoundedFetch implements ResponseSink {
	private readonly url: string;
	private readonly maxBytes: number;
	private status = 0;
	private headers: Headers = {};
	private length = 0;
	private body = EMPTY; // its first `length` bytes are the body so far
	private settled = false;
	private request: { abort(): void } | undefined;
	private watch: TransferWatch | undefined;
	private resolve: ((fetched: Fetched) => void) | undefined;
	private reject: ((error: Error) => void) | undefined;

	constructor(url: string, maxBytes: number) {
		this.url = url;
		this.maxBytes = maxBytes;
	}

	/** Starts the request; the Promise settles once, with the body or the first error. */
	start(transport: Transport, clock: Clock, timeoutMs: number, limits: TransferLimits, headers: [string, string][]): Promise<Fetched> {
		const done = new Promise<Fetched>((resolve, reject) => {
			this.resolve = resolve;
			this.reject = reject;
		});
		this.watch = watchTransfer(clock, limits, (why) => this.tooSlow(why));
		try {
			const request = transport.request({ url: this.url, headers, timeout: timeoutMs }, this);
			if (this.settled) // settled from inside request() (a transport that answers at once): abort what it left
				request.abort();
			else
				this.request = request;
		} catch (error) {
			this.finish(error as Error);
		}
		return done;
	}

	private tooSlow(why: string): void {
		this.request?.abort();
		this.finish(new TransientError(`${this.url}: ${why}`));
	}

	private finish(error?: Error): void {
		if (this.settled)
			return;
		this.settled = true;
		this.watch?.stop();
		const resolve = this.resolve!, reject = this.reject!;
		this.watch = this.resolve = this.reject = undefined;
		if (error)
			return reject(error);
		const body = this.body, length = this.length;
		resolve({ status: this.status, headers: this.headers, body: length === body.length ? body : body.slice(0, length) });
	}

	private abort(error: Error): void {
		this.request?.abort();
		this.finish(error);
	}

	response(code: number, received: Headers): void {
		if (this.settled)
			return;
		this.status = code;
		this.headers = received;
		const declared = Number(received["content-length"]);
		if (Number.isFinite(declared) && declared > this.maxBytes)
			this.abort(new TooLarge(`${this.url}: ${declared} bytes, more than ${this.maxBytes}`));
		else if (Number.isSafeInteger(declared) && declared > 0)
			this.body = new Uint8Array(declared);
	}

	data(chunk: Uint8Array): void {
		if (this.settled)
			return;
		this.watch!.received(chunk.length);
		const length = this.length, end = length + chunk.length, maxBytes = this.maxBytes;
		if (end > maxBytes)
			return this.abort(new TooLarge(`${this.url}: more than ${maxBytes} bytes`));
		let body = this.body;
		if (end > body.length) { // no length declared, or more than it: grow (a longer body fails in done)
			const grown = new Uint8Array(Math.min(maxBytes, Math.max(end, body.length * 2)));
			grown.set(body.subarray(0, length));
			body = this.body = grown;
		}
		body.set(chunk, length);
		this.length = end;
	}

	done(error?: string): void {
		if (this.settled)
			return;
		if (error)
			return this.finish(new TransientError(`${this.url}: ${error}`));
		// a body shorter than the server declared was cut, however the transport reports the end
		const declared = this.headers["content-length"];
		if (declared !== undefined && Number(declared) !== this.length)
			return this.finish(new TransientError(`${this.url}: the body ended at ${this.length} of ${declared} declared bytes`));
		this.finish();
	}
}

export function fetchBounded(transport: Transport, clock: Clock, url: string, maxBytes: number, timeoutMs: number, limits: TransferLimits,
	headers: [string, string][] = []): Promise<Fetched> {
	return new BoundedFetch(url, maxBytes).start(transport, clock, timeoutMs, limits, headers);
}
