// The HTTP/1.1 framing and connection reuse of modules/fota/http1.ts (what the Moddable transport runs over
// SecureSocket): request bytes, the response parser (status line, header bounds, Content-Length, chunked bodies,
// bodies cut short, Connection: close), and the client's reuse rules, first over an in-memory connection (every event
// order under control), then over real TLS sockets against the update server and against servers that close after
// every response or drop a kept-alive connection as a request arrives.
import test from "ava";
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { Http1Client, ResponseParser, serializeRequest, MAX_CHUNK_LINE, type Connection, type ConnectionEvents, type Dialer, type ResponseEvents } from "../../modules/fota/http1.js";
import { MAX_HEADERS, MAX_HEADER_BYTES, manifestPath, reportPath, VERSION_HEADER } from "../../modules/fota/protocol.js";
import type { Headers, ResponseSink } from "../../modules/fota/ports.js";
import { devCertificates, serve } from "./lib/https-fixture.js";

const ascii = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

/** A ResponseEvents that records what it is given. */
function recorder() {
	const seen = { status: 0, headers: {} as Headers, body: "", ends: [] as boolean[], responses: 0 };
	const events: ResponseEvents = {
		response(status, headers) { seen.status = status; seen.headers = headers; seen.responses++; },
		data(chunk) { seen.body += text(chunk); },
		end(keepAlive) { seen.ends.push(keepAlive); },
	};
	return { seen, events };
}

/** Parses a whole response given in pieces of `step` bytes (0: all at once); returns what came out and any error. */
function parse(response: string, step = 0, closeAfter = false) {
	const { seen, events } = recorder();
	const parser = new ResponseParser();
	parser.reset(events);
	const bytes = ascii(response);
	let error: string | undefined;
	const size = step || bytes.length || 1;
	for (let i = 0; i < bytes.length && error === undefined; i += size)
		error = parser.push(bytes.slice(i, i + size));
	if (closeAfter && error === undefined)
		error = parser.close();
	return { ...seen, error };
}

test("a request: request line, Host with the port, the caller's headers, Content-Length for a body in UTF-8", (t) => {
	const get = text(serializeRequest("GET", { host: "example.com", port: 8443, path: "/v1/x?y=1" }, [["Range", "bytes=0-9"]]));
	t.is(get, "GET /v1/x?y=1 HTTP/1.1\r\nHost: example.com:8443\r\nRange: bytes=0-9\r\n\r\n");
	const post = serializeRequest("POST", { host: "example.com", port: 443, path: "/r" }, [["Content-Type", "application/json"]], "{\"é\":1}");
	t.is(Buffer.from(post).toString("utf8"), "POST /r HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"é\":1}");
});

test("a request refuses header injection, bad names and the headers the framing sets", (t) => {
	const target = { host: "h", port: 443, path: "/" };
	t.throws(() => serializeRequest("GET", target, [["X-A", "1\r\nX-Evil: 1"]]), { message: /X-A has a control character/ });
	t.throws(() => serializeRequest("GET", target, [["X A", "1"]]), { message: /bad header name/ });
	t.throws(() => serializeRequest("GET", target, [["Content-Length", "5"]]), { message: /set by the transport/ });
	t.throws(() => serializeRequest("GET", target, [["connection", "close"]]), { message: /set by the transport/ });
	t.throws(() => serializeRequest("GET", { ...target, path: "/a b" }), { message: /bad path/ });
});

const LENGTH_RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Two: a\r\nx-two: b\r\n\r\nhello world";
const CHUNKED_RESPONSE = "HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";

test("a Content-Length body, whole or one byte at a time: the same status, headers, body, and a kept-alive end", (t) => {
	for (const step of [0, 1, 7]) {
		const out = parse(LENGTH_RESPONSE, step);
		t.is(out.error, undefined);
		t.is(out.status, 200);
		t.is(out.headers["content-length"], "11");
		t.is(out.headers["x-two"], "a, b", "repeated headers are joined");
		t.is(out.body, "hello world");
		t.deepEqual(out.ends, [true]);
	}
});

test("a chunked body with extensions and trailers, whole or one byte at a time", (t) => {
	for (const step of [0, 1, 3]) {
		const out = parse(CHUNKED_RESPONSE, step);
		t.is(out.error, undefined);
		t.is(out.status, 206);
		t.is(out.body, "hello world");
		t.deepEqual(out.ends, [true]);
	}
});

test("chunked framing errors: a bad size, a chunk longer than its size, an endless size line", (t) => {
	const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	t.regex(parse(head + "zz\r\n").error ?? "", /bad chunk size/);
	t.regex(parse(head + "3\r\nhello\r\n").error ?? "", /longer than its size/);
	t.regex(parse(head + "1" + "0".repeat(MAX_CHUNK_LINE)).error ?? "", /chunk-size line longer/);
	t.regex(parse(head + "123456789\r\n").error ?? "", /bad chunk size/, "more than 8 hex digits");
});

test("header bounds: MAX_HEADERS lines pass, one more fails; more than MAX_HEADER_BYTES fails before the body", (t) => {
	const lines = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join("");
	t.is(parse(`HTTP/1.1 204 No Content\r\n${lines(MAX_HEADERS)}\r\n`).error, undefined);
	t.regex(parse(`HTTP/1.1 204 No Content\r\n${lines(MAX_HEADERS + 1)}\r\n`).error ?? "", /exceed 64 lines or 8192 bytes/);
	const big = `HTTP/1.1 204 No Content\r\nX-Big: ${"a".repeat(MAX_HEADER_BYTES)}\r\n\r\n`;
	const out = parse(big, 1);
	t.regex(out.error ?? "", /exceed/);
	t.is(out.responses, 0, "nothing given out");
	// trailers have the same bounds
	t.regex(parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${lines(MAX_HEADERS + 1)}\r\n`).error ?? "", /exceed/);
});

test("framing that cannot be trusted is an error: two Content-Lengths, TE with CL, a TE other than chunked, bad lines", (t) => {
	t.regex(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").error ?? "", /two Content-Length/);
	t.is(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello").error, undefined, "the same value twice is one");
	t.regex(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").error ?? "", /both/);
	t.regex(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").error ?? "", /unsupported transfer-encoding/);
	t.regex(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").error ?? "", /bad Content-Length/);
	t.regex(parse("HTTP/2 200\r\n\r\n").error ?? "", /bad status line/);
	t.regex(parse("HTTP/1.1 200 OK\r\n folded\r\n\r\n").error ?? "", /bad header line/);
	t.regex(parse("HTTP/1.1 200 OK\r\nX: a\u0000b\r\n\r\n").error ?? "", /control character/);
	t.regex(parse("HTTP/1.1 101 Switching\r\n\r\n").error ?? "", /switched protocols/);
});

test("bodies cut short are errors that say where; a body framed by the close ends with it", (t) => {
	t.regex(parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello", 0, true).error ?? "", /cut short after 5 of 11 body bytes/);
	t.regex(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 0, true).error ?? "", /cut short in its chunked body, after 3/);
	t.regex(parse("HTTP/1.1 200 OK\r\nContent-Le", 0, true).error ?? "", /cut short in its headers/);
	t.regex(parse("HTTP/1.1 20", 0, true).error ?? "", /cut short in its status line/);
	t.regex(parse("", 0, true).error ?? "", /closed before the response/);
	const out = parse("HTTP/1.1 200 OK\r\n\r\nuntil the end", 0, true);
	t.is(out.error, undefined);
	t.is(out.body, "until the end");
	t.deepEqual(out.ends, [false], "a body framed by the close never leaves a reusable connection");
});

test("keep-alive: Connection: close, HTTP/1.0 and bytes after the response end without reuse; 204, 304 and 100 Continue", (t) => {
	t.deepEqual(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok").ends, [false]);
	t.deepEqual(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n").ends, [false]);
	t.deepEqual(parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").ends, [false]);
	t.deepEqual(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").ends, [false]);
	const notModified = parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 4096\r\nETag: \"a\"\r\n\r\n");
	t.deepEqual([notModified.status, notModified.body, notModified.ends], [304, "", [true]], "a 304 has no body whatever its length says");
	t.deepEqual(parse("HTTP/1.1 204 No Content\r\n\r\n").ends, [true]);
	const continued = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1);
	t.deepEqual([continued.status, continued.responses, continued.body], [200, 1, "ok"]);
});

test("a parser given bytes with no request outstanding fails", (t) => {
	const parser = new ResponseParser();
	t.regex(parser.push(ascii("HTTP/1.1 200 OK\r\n")) ?? "", /no request outstanding/);
});

// ---- the client over an in-memory connection: the test plays the server, byte for byte

class FakeServer implements Dialer {
	readonly links: { events: ConnectionEvents; written: string[]; closed: boolean }[] = [];
	/** what to do with each request written: answer with bytes, or cut the connection */
	onRequest: (request: string, link: number) => string | "cut" | "silent" = () => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	connect(_host: string, _port: number, events: ConnectionEvents): Connection {
		const index = this.links.length;
		const link = { events, written: [] as string[], closed: false };
		this.links.push(link);
		queueMicrotask(() => events.connected());
		return {
			write: (bytes) => {
				if (link.closed)
					throw new Error("closed");
				const request = text(bytes);
				link.written.push(request);
				queueMicrotask(() => {
					if (link.closed)
						return;
					const answer = this.onRequest(request, index);
					if (answer === "cut") {
						link.closed = true;
						events.closed("reset");
					}
					else if (answer !== "silent")
						events.data(ascii(answer));
				});
			},
			close: () => { link.closed = true; },
		};
	}
	/** The server closes a connection on its own (an idle keep-alive timing out). */
	hangUp(index: number): void {
		this.links[index]!.closed = true;
		this.links[index]!.events.closed();
	}
}

class FakeClock {
	time = 0;
	timers: { at: number; callback: () => void }[] = [];
	now = () => this.time;
	after = (ms: number, callback: () => void) => {
		const timer = { at: this.time + ms, callback };
		this.timers.push(timer);
		return () => { this.timers = this.timers.filter((x) => x !== timer); };
	};
	advance(ms: number): void {
		this.time += ms;
		for (const timer of this.timers.filter((x) => x.at <= this.time)) {
			this.timers = this.timers.filter((x) => x !== timer);
			timer.callback();
		}
	}
}

interface Got { status: number; body: string; error: string | undefined }

function get(client: Http1Client, url: string, options: { method?: "GET" | "POST"; body?: string; timeout?: number; onDone?: () => void } = {}): Promise<Got> & { abort(): void } {
	let abort = () => {};
	const promise = new Promise<Got>((resolve) => {
		const got: Got = { status: 0, body: "", error: undefined };
		const sink: ResponseSink = {
			response(status) { got.status = status; },
			data(chunk) { got.body += text(chunk); },
			done(error) { got.error = error; options.onDone?.(); resolve(got); },
		};
		abort = client.request({ url, timeout: options.timeout ?? 5000, ...(options.method ? { method: options.method } : {}), ...(options.body !== undefined ? { body: options.body } : {}) }, sink).abort;
	});
	return Object.assign(promise, { abort: () => abort() });
}

test("keep-alive: a check's requests to one origin share one connection, one at a time", async (t) => {
	const server = new FakeServer();
	const client = new Http1Client(server, new FakeClock());
	for (const path of ["/manifest", "/image", "/image"])
		t.deepEqual(await get(client, `https://h:8443${path}`), { status: 200, body: "ok", error: undefined });
	t.is(client.connections, 1);
	t.deepEqual(server.links[0]!.written.map((r) => r.split("\r\n")[0]), ["GET /manifest HTTP/1.1", "GET /image HTTP/1.1", "GET /image HTTP/1.1"]);
	// another origin gets its own connection
	await get(client, "https://other:8443/x");
	t.is(client.connections, 2);
});

test("a request made from done() goes on the connection that was just released", async (t) => {
	const server = new FakeServer();
	const client = new Http1Client(server, new FakeClock());
	let second: Promise<Got> | undefined;
	await get(client, "https://h/one", { onDone: () => { second = get(client, "https://h/two"); } });
	t.is((await second!).body, "ok");
	t.is(client.connections, 1);
});

test("a server that closes after every response: every request succeeds, each on a new connection", async (t) => {
	const server = new FakeServer();
	server.onRequest = () => "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
	const client = new Http1Client(server, new FakeClock());
	for (let i = 0; i < 3; i++)
		t.deepEqual(await get(client, "https://h/x"), { status: 200, body: "ok", error: undefined });
	t.is(client.connections, 3);
	t.true(server.links.every((link) => link.closed), "the client closed each one");
	t.is(client.resends, 0);
});

test("a stale kept-alive connection (cut before any byte of the response) is replaced once and the request sent again", async (t) => {
	const server = new FakeServer();
	server.onRequest = (_request, link) => link === 0 && server.links[0]!.written.length === 2 ? "cut" : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	const client = new Http1Client(server, new FakeClock());
	await get(client, "https://h/manifest");
	const report = await get(client, "https://h/report", { method: "POST", body: "{}" });
	t.deepEqual(report, { status: 200, body: "ok", error: undefined });
	t.is(client.connections, 2);
	t.is(client.resends, 1);
	t.regex(server.links[1]!.written[0]!, /^POST \/report HTTP\/1.1\r\n[^]*\r\n\r\n\{\}$/, "the same request, body included");
});

test("no resend loop: a fresh connection cut before the response is an error; a cut mid-response is never resent", async (t) => {
	const server = new FakeServer();
	server.onRequest = (_request, link) => link === 0 && server.links[0]!.written.length === 1 ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" : "cut";
	const client = new Http1Client(server, new FakeClock());
	await get(client, "https://h/a");
	const failed = await get(client, "https://h/b");
	t.regex(failed.error ?? "", /connection to h:443 the connection closed before the response \(reset\)/);
	t.is(client.resends, 1, "sent again once, then given up");
	t.is(client.connections, 2);

	const partial = new FakeServer();
	let count = 0;
	partial.onRequest = () => (++count === 1 ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" : "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
	const client2 = new Http1Client(partial, new FakeClock());
	await get(client2, "https://h/a");
	const pending = get(client2, "https://h/b");
	await new Promise((resolve) => setTimeout(resolve, 5));
	partial.hangUp(0);
	t.regex((await pending).error ?? "", /cut short after 3 of 10 body bytes/);
	t.is(client2.resends, 0, "part of the response came: not sent again");
});

test("an idle connection the server closed is dropped: the next request opens a new one without a resend", async (t) => {
	const server = new FakeServer();
	const client = new Http1Client(server, new FakeClock());
	await get(client, "https://h/a");
	server.hangUp(0);
	t.is((await get(client, "https://h/b")).body, "ok");
	t.deepEqual([client.connections, client.resends], [2, 0]);
});

test("an idle connection is closed after idleMs; bytes arriving on an idle connection drop it", async (t) => {
	const server = new FakeServer();
	const clock = new FakeClock();
	const client = new Http1Client(server, clock, { idleMs: 1000 });
	await get(client, "https://h/a");
	clock.advance(999);
	t.false(server.links[0]!.closed);
	clock.advance(1);
	t.true(server.links[0]!.closed, "closed after idleMs");
	await get(client, "https://h/b");
	server.links[1]!.events.data(ascii("HTTP/1.1 200 OK\r\n"));
	t.true(server.links[1]!.closed, "unsolicited bytes: out of step");
	await get(client, "https://h/c");
	t.is(client.connections, 3);
});

test("an abort closes the connection (never reused) and done says aborted; a stall ends the request after its timeout", async (t) => {
	const server = new FakeServer();
	server.onRequest = () => "silent";
	const clock = new FakeClock();
	const client = new Http1Client(server, clock);
	const aborted = get(client, "https://h/a");
	aborted.abort();
	t.is((await aborted).error, "aborted");
	t.true(server.links[0]!.closed);
	const stalled = get(client, "https://h/b", { timeout: 3000 });
	await new Promise((resolve) => setTimeout(resolve, 5));
	clock.advance(2000);
	server.links[1]!.events.data(ascii("HTTP/1.1 200 OK\r\n")); // activity: the stall timer starts over
	clock.advance(2000);
	clock.advance(1000);
	t.is((await stalled).error, "no data for 3000 ms");
	t.true(server.links[1]!.closed);
	t.is(client.connections, 2);
});

test("a sink that aborts from data() stops the response there; a framing error closes the connection", async (t) => {
	const server = new FakeServer();
	server.onRequest = () => "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
	const client = new Http1Client(server, new FakeClock());
	const result = await new Promise<{ chunks: number; error: string | undefined }>((resolve) => {
		let chunks = 0;
		const request = client.request({ url: "https://h/a", timeout: 1000 }, {
			response() {},
			data() { chunks++; request.abort(); },
			done(error) { resolve({ chunks, error }); },
		});
	});
	t.deepEqual(result, { chunks: 1, error: "aborted" });
	server.onRequest = () => "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
	t.regex((await get(client, "https://h/b")).error ?? "", /bad Content-Length/);
	t.true(server.links[1]!.closed);
});

// ---- over real TLS sockets (node:tls), as the Moddable glue runs over SecureSocket

function nodeDialer(ca: string, identity?: { clientKey: string; clientCertificates: string }): Dialer & { handshakes: number; resumed: number } {
	let session: Buffer | undefined;
	const dialer = {
		handshakes: 0,
		resumed: 0,
		connect(host: string, port: number, events: ConnectionEvents): Connection {
			const socket: TLSSocket = tlsConnect({ host, port, ca, servername: host, ...(session ? { session } : {}), ...(identity ? { key: identity.clientKey, cert: identity.clientCertificates } : {}) });
			let ended = false;
			socket.on("session", (value: Buffer) => { session = value; });
			socket.on("secureConnect", () => {
				dialer.handshakes++;
				if (socket.isSessionReused())
					dialer.resumed++;
				events.connected();
			});
			socket.on("data", (bytes: Buffer) => events.data(new Uint8Array(bytes)));
			const end = (detail?: string) => {
				if (!ended) {
					ended = true;
					events.closed(detail);
				}
			};
			socket.on("end", () => end());
			socket.on("close", () => end());
			socket.on("error", (error) => end(error.message));
			return {
				write(bytes) {
					if (ended || socket.destroyed)
						throw new Error("closed");
					socket.write(bytes);
				},
				close() { ended = true; socket.destroy(); },
			};
		},
	};
	return dialer;
}

const realClock = { now: () => Date.now(), after(ms: number, callback: () => void) { const timer = setTimeout(callback, ms); return () => clearTimeout(timer); } };

test("the real update server: manifest, two image ranges and the report of a check on one TLS connection", async (t) => {
	const image = new Uint8Array(3000).map((_, i) => i & 0xff);
	const served = await serve(image);
	t.teardown(() => served.close());
	const identity = served.identity("dev-1");
	const dialer = nodeDialer(served.caPem, identity);
	const client = new Http1Client(dialer, realClock);
	t.teardown(() => client.close());
	const call = (path: string, headers: [string, string][] = [], method?: "POST", body?: string) => new Promise<{ status: number; body: Buffer; error?: string }>((resolve) => {
		let status = 0;
		const chunks: Buffer[] = [];
		client.request({ url: served.url + path, headers, timeout: 5000, ...(method ? { method } : {}), ...(body !== undefined ? { body } : {}) }, {
			response(code) { status = code; },
			data(chunk) { chunks.push(Buffer.from(chunk)); },
			done(error) { resolve({ status, body: Buffer.concat(chunks), ...(error ? { error } : {}) }); },
		});
	});
	const manifest = await call(manifestPath("demo"), [[VERSION_HEADER, "0.9.0"]]);
	t.is(manifest.status, 200, manifest.body.toString());
	const first = await call("/v1/products/demo/1.bin", [["Range", "bytes=0-1499"]]);
	const second = await call("/v1/products/demo/1.bin", [["Range", "bytes=1500-2999"]]);
	t.deepEqual([first.status, second.status], [206, 206]);
	t.deepEqual(new Uint8Array(Buffer.concat([first.body, second.body])), image);
	const report = await call(reportPath("dev-1"), [["Content-Type", "application/json"]], "POST", JSON.stringify({ product: "demo", version: "1.0.0", state: "valid" }));
	t.is(report.status, 204, report.body.toString());
	t.is(dialer.handshakes, 1, "one TLS handshake for the whole check");
	t.is((await served.store.device("dev-1"))?.state, "valid");
});

function tlsOptions() {
	const { certs } = devCertificates();
	return { key: readFileSync(certs.key), cert: readFileSync(certs.cert), ca: readFileSync(certs.ca, "utf8") };
}

test("a real server that closes after every response: every request succeeds, one handshake each", async (t) => {
	const { key, cert, ca } = tlsOptions();
	const server = createHttpsServer({ key, cert }, (request, response) => {
		response.setHeader("Connection", "close");
		response.end(`path ${request.url}`);
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	t.teardown(() => { server.closeAllConnections(); server.close(); });
	const port = (server.address() as AddressInfo).port;
	const dialer = nodeDialer(ca);
	const client = new Http1Client(dialer, realClock);
	for (const path of ["/a", "/b", "/c"]) {
		const got = await get(client, `https://localhost:${port}${path}`);
		t.deepEqual(got, { status: 200, body: `path ${path}`, error: undefined });
	}
	t.is(dialer.handshakes, 3);
	t.is(client.resends, 0);
	t.true(dialer.resumed >= 1, "the later handshakes resume the TLS session (Node's tickets)");
});

test("a real server that drops a kept-alive connection when the next request arrives: sent again once, answered", async (t) => {
	const { key, cert, ca } = tlsOptions();
	let connections = 0;
	const server = createTlsServer({ key, cert }, (socket) => {
		connections++;
		let requests = 0;
		let buffered = "";
		socket.on("data", (bytes: Buffer) => {
			buffered += bytes.toString("latin1");
			while (buffered.includes("\r\n\r\n")) {
				buffered = buffered.slice(buffered.indexOf("\r\n\r\n") + 4);
				requests++;
				if (requests === 2)
					socket.destroy(); // the stale keep-alive: closed as the second request comes, unanswered
				else
					socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nanswer ${String(requests).padStart(2, "0")}`);
			}
		});
		socket.on("error", () => {});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	t.teardown(() => server.close());
	const port = (server.address() as AddressInfo).port;
	const client = new Http1Client(nodeDialer(ca), realClock);
	t.teardown(() => client.close());
	t.is((await get(client, `https://localhost:${port}/a`)).body, "answer 01");
	t.deepEqual(await get(client, `https://localhost:${port}/b`), { status: 200, body: "answer 01", error: undefined }, "answered on the new connection");
	t.deepEqual([client.resends, client.connections, connections], [1, 2, 2]);
});
