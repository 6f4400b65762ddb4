// The HTTP/1.1 framing that the Moddable transport runs on the ESP32 and in mcsim (modules/fota/http1.ts), run here in
// the XS engine itself: Node's tests (test/node/http1.test.ts) cover every case, and these few make sure the same
// compiled module behaves the same under XS (its RegExps, its strings, its typed arrays): requests, both body
// framings fed whole and byte by byte, a bodiless 304 that leaves the connection reusable, the header bound, and a
// body cut short reported with where it stopped.
import { ResponseParser, serializeRequest, type ResponseEvents } from "fota/http1";
import { MAX_HEADERS } from "fota/protocol";
import { test } from "./lib/harness.js";

function ascii(text: string): Uint8Array {
	const bytes = new Uint8Array(text.length);
	for (let i = 0; i < text.length; i++)
		bytes[i] = text.charCodeAt(i);
	return bytes;
}

function text(bytes: Uint8Array): string {
	let out = "";
	for (let i = 0; i < bytes.length; i++)
		out += String.fromCharCode(bytes[i]!);
	return out;
}

/** Feeds a response in pieces of `step` bytes (0: at once); closes the connection after it when asked. */
function parse(response: string, step = 0, closeAfter = false) {
	const seen = { status: 0, headers: {} as Record<string, string>, body: "", ends: [] as boolean[], error: undefined as string | undefined };
	const events: ResponseEvents = {
		response(status, headers) { seen.status = status; seen.headers = headers; },
		data(chunk) { seen.body += text(chunk); },
		end(keepAlive) { seen.ends.push(keepAlive); },
	};
	const parser = new ResponseParser();
	parser.reset(events);
	const bytes = ascii(response);
	const size = step || bytes.length || 1;
	for (let i = 0; i < bytes.length && seen.error === undefined; i += size)
		seen.error = parser.push(bytes.slice(i, i + size));
	if (closeAfter && seen.error === undefined)
		seen.error = parser.close();
	return seen;
}

test("a request's bytes: request line, Host with its port, the caller's headers, Content-Length of a UTF-8 body", (t) => {
	const get = text(serializeRequest("GET", { host: "fota.example", port: 8443, path: "/v1/products/p/manifest" }, [["If-None-Match", "\"ab\""]]));
	t.is(get, "GET /v1/products/p/manifest HTTP/1.1\r\nHost: fota.example:8443\r\nIf-None-Match: \"ab\"\r\n\r\n");
	const post = text(serializeRequest("POST", { host: "fota.example", port: 443, path: "/r" }, [], "{\"é\":1}"));
	t.is(post, "POST /r HTTP/1.1\r\nHost: fota.example\r\nContent-Length: 8\r\n\r\n{\"\u00c3\u00a9\":1}");
	t.throws(() => serializeRequest("GET", { host: "h", port: 443, path: "/" }, [["X", "1\r\nInjected: 1"]]), { instanceOf: TypeError });
});

test("Content-Length and chunked bodies, whole or a byte at a time, end on a reusable connection", (t) => {
	for (const step of [0, 1]) {
		const length = parse("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-10/99\r\nContent-Length: 11\r\n\r\nhello world", step);
		t.is(length.error, undefined);
		t.is(length.status, 206);
		t.is(length.headers["content-range"], "bytes 0-10/99");
		t.is(length.body, "hello world");
		t.deepEqual(length.ends, [true]);
		const chunked = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: t\r\n\r\n", step);
		t.is(chunked.error, undefined);
		t.is(chunked.body, "hello world");
		t.deepEqual(chunked.ends, [true]);
	}
});

test("a 304 has no body whatever its Content-Length says, and the connection stays reusable", (t) => {
	const notModified = parse("HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\nContent-Length: 4096\r\n\r\n");
	t.is(notModified.error, undefined);
	t.is(notModified.status, 304);
	t.is(notModified.body, "");
	t.deepEqual(notModified.ends, [true]);
});

test("bounds and cuts: too many header lines are refused before any response; a body cut short says where", (t) => {
	let head = "HTTP/1.1 200 OK\r\n";
	for (let i = 0; i <= MAX_HEADERS; i++)
		head += `X-${i}: v\r\n`;
	const flooded = parse(`${head}\r\n`);
	t.true(/exceed/.test(flooded.error ?? ""), flooded.error ?? "no error");
	t.is(flooded.status, 0);
	const cut = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello", 0, true);
	t.true(/cut short after 5 of 11 body bytes/.test(cut.error ?? ""), cut.error ?? "no error");
	t.deepEqual(cut.ends, []);
});
