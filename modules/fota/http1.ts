// HTTP/1.1 over one kept-alive connection per origin, without I/O: the request's bytes out, the response's bytes in,
// events to the client's ResponseSink. A target gives only a Dialer (its TLS socket: bytes to write, bytes read, a
// close) and timers, so the same framing runs in Node's tests, in XS, in mcsim and on the ESP32
// (modules/fota-moddable/transport.ts). Why: Moddable's own `http` Request sends `Connection: close`, so every
// request of a check paid a TLS handshake (seconds of CPU and ~70 KB of heap on an ESP32); here the manifest, the
// image ranges and the report of a check share one connection while the server keeps it alive.
// What it accepts from a server, with bounds: a status line `HTTP/1.x NNN`; at most MAX_HEADERS header lines and
// MAX_HEADER_BYTES bytes before the body (the trailers of a chunked body have the same bounds); a body framed by
// Content-Length, by chunks (`Transfer-Encoding: chunked`, nothing else), or by the server's close. A response
// without a framing it understands, a Content-Length given twice with two values, a Transfer-Encoding with a
// Content-Length, or a body cut short is an error, never a shorter body.
// Reuse rules: a request goes on the origin's idle connection; when that connection turns out closed before one
// byte of the response came (a stale keep-alive: the server closed it while idle), the request is sent again once on
// a new connection (see `Http1Client`). One request at a time per connection (no pipelining); a connection whose
// response said `Connection: close`, was HTTP/1.0, was framed by the close, or brought bytes after its response is
// not reused. An abort or a stall closes the connection.
import type { Clock, Headers, HttpRequest, ResponseSink, Transport } from "./ports.js";
import { MAX_HEADERS, MAX_HEADER_BYTES } from "./protocol.js";
import { splitHttpsUrl, type HttpsTarget } from "./url.js";
import { encodeUtf8 } from "./utf8.js";

/** The longest chunk-size line (hex size and extensions) accepted in a chunked body. */
export const MAX_CHUNK_LINE = 256;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** Headers the framing sets itself: a caller's own would contradict it. */
const FRAMING = ["host", "content-length", "transfer-encoding", "connection"];

/** The bytes of a request: request line, Host, the caller's headers, Content-Length when there is a body, a blank
 * line, the body. A header name that is not a token, or a value with a control character (a CR or LF would inject
 * a header), is a TypeError naming the header. */
export function serializeRequest(method: string, target: HttpsTarget, headers: readonly [string, string][] = [], body?: string | Uint8Array): Uint8Array {
	if (!TOKEN.test(method))
		throw new TypeError(`http: bad method ${JSON.stringify(method)}`);
	if (!/^\/[^\s]*$/.test(target.path))
		throw new TypeError(`http: bad path ${JSON.stringify(target.path)}`);
	let head = `${method} ${target.path} HTTP/1.1\r\nHost: ${target.host}${target.port === 443 ? "" : `:${target.port}`}\r\n`;
	for (const [name, value] of headers) {
		if (!TOKEN.test(name))
			throw new TypeError(`http: bad header name ${JSON.stringify(name)}`);
		if (FORBIDDEN_VALUE.test(value))
			throw new TypeError(`http: header ${name} has a control character in its value`);
		if (FRAMING.includes(name.toLowerCase()))
			throw new TypeError(`http: header ${name} is set by the transport`);
		head += `${name}: ${value}\r\n`;
	}
	const payload = body === undefined ? undefined : typeof body === "string" ? encodeUtf8(body) : body;
	if (payload !== undefined || method === "POST" || method === "PUT")
		head += `Content-Length: ${payload?.length ?? 0}\r\n`;
	head += "\r\n";
	const headBytes = encodeUtf8(head);
	if (payload === undefined || payload.length === 0)
		return headBytes;
	const out = new Uint8Array(headBytes.length + payload.length);
	out.set(headBytes, 0);
	out.set(payload, headBytes.length);
	return out;
}

/** What a ResponseParser gives out. */
export interface ResponseEvents {
	/** The final status and headers (lower-case names; a repeated header's values joined with ", "), once. */
	response(status: number, headers: Headers): void;
	/** A piece of the body: a view into the bytes given to push, which the caller must not reuse. */
	data(chunk: Uint8Array): void;
	/** The response is complete; keepAlive: the connection may carry the next request. */
	end(keepAlive: boolean): void;
}

const enum State { Idle, Status, Header, Length, ChunkSize, ChunkData, ChunkEnd, Trailer, UntilClose, Done, Failed }

/** One response at a time, from bytes: reset() for each request, push() what the connection reads, close() when the
 * connection ends. Errors come back as strings (push and close return them) and leave the parser failed. */
export class ResponseParser {
	#events: ResponseEvents | undefined;
	#state = State.Idle;
	/** bumped by reset/detach: a push stops as soon as an event handler started something else */
	#generation = 0;
	#line = "";
	#lineBytes = 0;
	#headerBytes = 0;
	#headerCount = 0;
	#headers: Headers = {};
	#status = 0;
	#interim = false;
	#keepAlive = true;
	#remaining = 0;
	#bodyBytes = 0;
	#length = -1;
	#noBody = false;
	/** bytes of this response received so far (0: nothing came yet) */
	received = 0;

	/** Starts a new response; noBody for a HEAD request (its answer has headers only). */
	reset(events: ResponseEvents, noBody = false): void {
		this.#generation++;
		this.#events = events;
		this.#state = State.Status;
		this.#noBody = noBody;
		this.#startHead();
		this.received = 0;
		this.#keepAlive = true;
		this.#bodyBytes = 0;
		this.#length = -1;
	}

	/** Stops giving events (the request was aborted). */
	detach(): void {
		this.#generation++;
		this.#events = undefined;
		this.#state = State.Idle;
	}

	/** Whether a response is being read (reset and neither complete nor failed). */
	get busy(): boolean {
		return this.#state !== State.Idle && this.#state !== State.Done && this.#state !== State.Failed;
	}

	/** Takes bytes read from the connection; returns an error, or undefined. */
	push(bytes: Uint8Array): string | undefined {
		const events = this.#events;
		if (events === undefined || !this.busy)
			return this.#fail(`${bytes.length} bytes came with no request outstanding`);
		const generation = this.#generation;
		this.received += bytes.length;
		let i = 0;
		while (i < bytes.length) {
			switch (this.#state) {
			case State.Length:
			case State.ChunkData:
			case State.UntilClose: {
				const n = this.#state === State.UntilClose ? bytes.length - i : Math.min(this.#remaining, bytes.length - i);
				this.#bodyBytes += n;
				events.data(bytes.subarray(i, i + n));
				if (generation !== this.#generation)
					return undefined;
				i += n;
				if (this.#state === State.UntilClose)
					break;
				this.#remaining -= n;
				if (this.#remaining === 0) {
					if (this.#state === State.Length)
						return this.#finish(i < bytes.length);
					this.#state = State.ChunkEnd;
				}
				break;
			}
			default: {
				// a line: the status line, a header, a chunk size, the CRLF after a chunk, a trailer
				const byte = bytes[i++]!;
				this.#lineBytes++;
				const limit = this.#state === State.ChunkSize || this.#state === State.ChunkEnd ? MAX_CHUNK_LINE : MAX_HEADER_BYTES - this.#headerBytes;
				if (this.#lineBytes > limit)
					return this.#fail(this.#state === State.ChunkSize || this.#state === State.ChunkEnd
						? `a chunk-size line longer than ${MAX_CHUNK_LINE} bytes`
						: `response headers exceed ${MAX_HEADERS} lines or ${MAX_HEADER_BYTES} bytes`);
				if (byte !== 0x0a) {
					this.#line += String.fromCharCode(byte);
					continue;
				}
				let line = this.#line;
				if (line.endsWith("\r"))
					line = line.slice(0, -1);
				if (this.#state !== State.ChunkSize && this.#state !== State.ChunkEnd)
					this.#headerBytes += this.#lineBytes;
				this.#line = "";
				this.#lineBytes = 0;
				const error = this.#takeLine(line, events);
				if (error !== undefined)
					return this.#fail(error);
				if (generation !== this.#generation)
					return undefined;
				if (this.#state === State.Done)
					return this.#finish(i < bytes.length);
			}
			}
		}
		return undefined;
	}

	/** The connection ended. A body framed by the close ends here; anything else unfinished is an error saying where
	 * the response was cut. */
	close(): string | undefined {
		switch (this.#state) {
		case State.Idle:
		case State.Done:
		case State.Failed:
			return undefined;
		case State.UntilClose:
			this.#state = State.Done;
			this.#events?.end(false);
			return undefined;
		case State.Status:
			return this.#fail(this.received === 0 ? "the connection closed before the response" : "the response was cut short in its status line");
		case State.Header:
			return this.#fail("the response was cut short in its headers");
		case State.Length:
			return this.#fail(`the response was cut short after ${this.#bodyBytes} of ${this.#length} body bytes`);
		default:
			return this.#fail(`the response was cut short in its chunked body, after ${this.#bodyBytes} body bytes`);
		}
	}

	#startHead(): void {
		this.#line = "";
		this.#lineBytes = 0;
		this.#headerBytes = 0;
		this.#headerCount = 0;
		this.#headers = {};
	}

	#fail(error: string): string {
		this.#state = State.Failed;
		this.#events = undefined;
		return error;
	}

	#finish(leftover: boolean): string | undefined {
		const events = this.#events!;
		this.#state = State.Done;
		// bytes after the response were never asked for: the connection is out of step and must not carry another request
		events.end(this.#keepAlive && !leftover);
		return undefined;
	}

	#takeLine(line: string, events: ResponseEvents): string | undefined {
		switch (this.#state) {
		case State.Status: {
			const match = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\u0000-\u0008\u000a-\u001f\u007f]*)?$/.exec(line);
			if (!match)
				return `bad status line ${JSON.stringify(line.slice(0, 64))}`;
			this.#status = Number(match[2]);
			if (this.#status === 101)
				return "the server switched protocols, which was not asked for";
			this.#interim = this.#status < 200;
			if (match[1] === "0")
				this.#keepAlive = false;
			this.#state = State.Header;
			return undefined;
		}
		case State.Header:
		case State.Trailer: {
			if (line === "")
				return this.#state === State.Header ? this.#headersDone(events) : (this.#state = State.Done, undefined);
			this.#headerCount++;
			if (this.#headerCount > MAX_HEADERS)
				return `response headers exceed ${MAX_HEADERS} lines or ${MAX_HEADER_BYTES} bytes`;
			const colon = line.indexOf(":");
			const name = colon > 0 ? line.slice(0, colon) : "";
			if (!TOKEN.test(name))
				return `bad header line ${JSON.stringify(line.slice(0, 64))}`;
			const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
			if (FORBIDDEN_VALUE.test(value))
				return `header ${name} has a control character in its value`;
			if (this.#state === State.Trailer)
				return undefined; // trailers are bounded and checked, not kept
			const key = name.toLowerCase();
			const before = this.#headers[key];
			if (before === undefined)
				this.#headers[key] = value;
			else if (key === "content-length") {
				if (before !== value)
					return `two Content-Length headers (${before}, ${value})`;
			}
			else
				this.#headers[key] = `${before}, ${value}`;
			return undefined;
		}
		case State.ChunkSize: {
			const match = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(line);
			if (!match)
				return `bad chunk size ${JSON.stringify(line.slice(0, 32))}`;
			this.#remaining = parseInt(match[1]!, 16);
			if (this.#remaining === 0) {
				this.#state = State.Trailer;
				this.#startHead();
			}
			else
				this.#state = State.ChunkData;
			return undefined;
		}
		case State.ChunkEnd:
			if (line !== "")
				return "a chunk is longer than its size";
			this.#state = State.ChunkSize;
			return undefined;
		}
		return "internal: a line in a body";
	}

	#headersDone(events: ResponseEvents): string | undefined {
		const headers = this.#headers;
		if (this.#interim) { // 100 Continue and its kind: another status line follows
			this.#state = State.Status;
			this.#startHead();
			return undefined;
		}
		const connection = headers["connection"];
		if (connection !== undefined && /(^|,)[ \t]*close[ \t]*(,|$)/i.test(connection))
			this.#keepAlive = false;
		const status = this.#status;
		const te = headers["transfer-encoding"];
		const cl = headers["content-length"];
		let next: State;
		if (this.#noBody || status === 204 || status === 304)
			next = State.Done;
		else if (te !== undefined) {
			if (!/^chunked$/i.test(te))
				return `unsupported transfer-encoding ${JSON.stringify(te.slice(0, 32))}`;
			if (cl !== undefined)
				return "both Transfer-Encoding and Content-Length";
			next = State.ChunkSize;
		}
		else if (cl !== undefined) {
			if (!/^\d{1,15}$/.test(cl))
				return `bad Content-Length ${JSON.stringify(cl.slice(0, 32))}`;
			this.#length = this.#remaining = Number(cl);
			next = this.#remaining === 0 ? State.Done : State.Length;
		}
		else {
			next = State.UntilClose;
			this.#keepAlive = false;
		}
		this.#state = next;
		events.response(status, headers);
		return undefined;
	}
}

/** One connection, as the platform gives it: TLS already configured (CA pinned, client identity). */
export interface Connection {
	/** Sends bytes, in order; the platform queues what its socket cannot take yet. Throws when the socket is closed. */
	write(bytes: Uint8Array): void;
	/** Closes the connection; no event follows. */
	close(): void;
}

/** What a connection tells the client. */
export interface ConnectionEvents {
	/** The TLS handshake is done: bytes may be written. */
	connected(): void;
	/** Bytes read, decrypted; the client keeps views into them. */
	data(bytes: Uint8Array): void;
	/** The peer closed the connection, or it failed (detail says how); no event follows. */
	closed(detail?: string): void;
}

/** Opens connections: one TLS handshake each (or a resumed session, where the platform's TLS and the server can). */
export interface Dialer {
	connect(host: string, port: number, events: ConnectionEvents): Connection;
}

export interface Http1Options {
	/** An idle kept-alive connection is closed after this long (ms): it holds the TLS session's memory. */
	idleMs?: number;
}

/** A transport over a Dialer: HTTP/1.1 with one kept-alive connection per origin. */
export class Http1Client implements Transport {
	readonly #dialer: Dialer;
	readonly #clock: Pick<Clock, "now" | "after">;
	readonly #idleMs: number;
	/** the idle connection of each origin ("host:port"), at most one */
	readonly #idle = new Map<string, Link>();
	/** connections opened (each a TLS handshake, full or resumed), for tests and benchmarks */
	connections = 0;
	/** requests sent again on a new connection because the kept-alive one had been closed */
	resends = 0;

	constructor(dialer: Dialer, clock: Pick<Clock, "now" | "after">, options: Http1Options = {}) {
		this.#dialer = dialer;
		this.#clock = clock;
		this.#idleMs = options.idleMs ?? 15000;
	}

	request(request: HttpRequest, sink: ResponseSink): { abort(): void } {
		const target = splitHttpsUrl(request.url);
		const method = request.method ?? "GET";
		const bytes = serializeRequest(method, target, request.headers ?? [], request.body);
		const exchange = new Exchange(this, `${target.host}:${target.port}`, target, bytes, sink, Math.max(1, request.timeout));
		this.start(exchange, true);
		return exchange;
	}

	/** Closes every idle connection (the device is going to sleep, or a test ends). */
	close(): void {
		for (const link of this.#idle.values())
			link.shut();
		this.#idle.clear();
	}

	/** Puts the exchange on the origin's idle connection, or on a new one (reuse false, or none idle). */
	start(exchange: Exchange, reuse: boolean): void {
		let link = reuse ? this.#idle.get(exchange.origin) : undefined;
		if (link !== undefined) {
			this.#idle.delete(exchange.origin);
			link.stopIdle();
		}
		else {
			link = new Link(this, exchange.origin);
			this.connections++;
			link.connection = this.#dialer.connect(exchange.target.host, exchange.target.port, link);
		}
		exchange.begin(link);
	}

	/** A connection whose response allows another request: kept as the origin's idle one, or closed. */
	release(link: Link): void {
		if (link.ended || this.#idle.has(link.origin)) {
			link.shut();
			return;
		}
		this.#idle.set(link.origin, link);
		link.startIdle(this.#idleMs);
	}

	/** An idle connection closed or misbehaved. */
	forget(link: Link): void {
		if (this.#idle.get(link.origin) === link)
			this.#idle.delete(link.origin);
		link.shut();
	}

	get clock(): Pick<Clock, "now" | "after"> {
		return this.#clock;
	}
}

/** One connection and its parser. */
class Link implements ConnectionEvents {
	readonly client: Http1Client;
	readonly origin: string;
	connection: Connection | undefined;
	readonly parser = new ResponseParser();
	open = false;
	/** closed, by either side */
	ended = false;
	/** responses completed on it */
	served = 0;
	exchange: Exchange | undefined;
	#pending: Uint8Array | undefined;
	#cancelIdle: (() => void) | undefined;

	constructor(client: Http1Client, origin: string) {
		this.client = client;
		this.origin = origin;
	}

	send(bytes: Uint8Array): void {
		if (this.open)
			this.connection!.write(bytes);
		else
			this.#pending = bytes;
	}

	connected(): void {
		this.open = true;
		this.exchange?.alive();
		const pending = this.#pending;
		this.#pending = undefined;
		if (pending !== undefined) {
			try {
				this.connection!.write(pending);
			}
			catch (error) {
				this.ended = true;
				this.exchange?.cut(`write failed: ${(error as Error).message}`);
			}
		}
	}

	data(bytes: Uint8Array): void {
		const exchange = this.exchange;
		if (exchange === undefined) { // bytes on an idle connection: out of step
			this.client.forget(this);
			return;
		}
		exchange.alive();
		const error = this.parser.push(bytes);
		if (error !== undefined)
			exchange.fail(error);
	}

	closed(detail?: string): void {
		this.ended = true;
		this.open = false;
		this.stopIdle();
		if (this.exchange !== undefined)
			this.exchange.cut(detail);
		else
			this.client.forget(this);
	}

	startIdle(ms: number): void {
		this.#cancelIdle = this.client.clock.after(ms, () => {
			this.#cancelIdle = undefined;
			this.client.forget(this);
		});
	}

	stopIdle(): void {
		this.#cancelIdle?.();
		this.#cancelIdle = undefined;
	}

	/** Closes the connection (no event follows). */
	shut(): void {
		this.stopIdle();
		this.parser.detach();
		this.exchange = undefined;
		const connection = this.connection;
		this.open = false;
		if (!this.ended) {
			this.ended = true;
			try {
				connection?.close();
			}
			catch {
				// closed already underneath
			}
		}
	}
}

/** One request and its response, on one link (or two, after a stale keep-alive). */
class Exchange implements ResponseEvents {
	readonly #client: Http1Client;
	readonly origin: string;
	readonly target: HttpsTarget;
	readonly #bytes: Uint8Array;
	readonly #sink: ResponseSink;
	readonly #timeout: number;
	#link: Link | undefined;
	#finished = false;
	#resent = false;
	#last = 0;
	#cancelTimer: (() => void) | undefined;
	readonly #onTimer = () => this.#tick();

	constructor(client: Http1Client, origin: string, target: HttpsTarget, bytes: Uint8Array, sink: ResponseSink, timeout: number) {
		this.#client = client;
		this.origin = origin;
		this.target = target;
		this.#bytes = bytes;
		this.#sink = sink;
		this.#timeout = timeout;
	}

	begin(link: Link): void {
		this.#link = link;
		link.exchange = this;
		link.parser.reset(this);
		this.alive();
		if (this.#cancelTimer === undefined)
			this.#cancelTimer = this.#client.clock.after(this.#timeout, this.#onTimer);
		try {
			link.send(this.#bytes);
		}
		catch (error) {
			link.ended = true;
			this.cut(`write failed: ${(error as Error).message}`);
		}
	}

	/** Something came from the connection: the stall timer starts over. */
	alive(): void {
		this.#last = this.#client.clock.now();
	}

	#tick(): void {
		this.#cancelTimer = undefined;
		if (this.#finished)
			return;
		const quiet = this.#client.clock.now() - this.#last;
		if (quiet < this.#timeout) {
			this.#cancelTimer = this.#client.clock.after(this.#timeout - quiet, this.#onTimer);
			return;
		}
		this.#close(`no data for ${this.#timeout} ms`);
	}

	/** Ends the request and closes its connection (a method that keeps its `this` when taken off the object). */
	readonly abort = (): void => this.#close("aborted");

	/** The connection ended while this exchange had it. */
	cut(detail?: string): void {
		if (this.#finished)
			return;
		const link = this.#link!;
		// A stale keep-alive: the server closed the idle connection before reading this request (Node closes idle
		// connections after its keepAliveTimeout), so nothing of the response came. Sent again once, on a new
		// connection. That is safe for our requests: GETs change nothing, and the server takes a report POST
		// idempotently (tools/server/server.ts #report: the device's row is set to the reported state, offers are
		// settled per device; a report that did arrive twice adds one more history entry, nothing else).
		if (link.served > 0 && link.parser.received === 0 && !this.#resent) {
			this.#resent = true;
			this.#client.resends++;
			link.exchange = undefined;
			link.shut();
			try {
				this.#client.start(this, false);
			}
			catch (error) {
				this.#done(`reconnect to ${this.origin} failed: ${(error as Error).message}`);
			}
			return;
		}
		const error = link.parser.close();
		if (this.#finished) // a body framed by the close ended with it
			return;
		this.#close(`connection to ${this.origin} ${error ?? "closed"}${detail ? ` (${detail})` : ""}`);
	}

	/** The response broke the framing or its bounds: the connection cannot be trusted further. */
	fail(error: string): void {
		this.#close(error);
	}

	response(status: number, headers: Headers): void {
		this.#sink.response(status, headers);
	}

	data(chunk: Uint8Array): void {
		this.#sink.data(chunk);
	}

	end(keepAlive: boolean): void {
		if (this.#finished)
			return;
		const link = this.#link!;
		link.served++;
		link.exchange = undefined;
		// released before done: a request made from done() goes on this connection
		if (keepAlive)
			this.#client.release(link);
		else
			link.shut();
		this.#done();
	}

	#close(error: string): void {
		if (this.#finished)
			return;
		const link = this.#link;
		if (link !== undefined) {
			link.exchange = undefined;
			this.#client.forget(link);
		}
		this.#done(error);
	}

	#done(error?: string): void {
		if (this.#finished)
			return;
		this.#finished = true;
		this.#cancelTimer?.();
		this.#cancelTimer = undefined;
		this.#sink.done(error);
	}
}
