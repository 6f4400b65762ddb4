// Garbage, measured inside XS (the sim host's sim/memory), of the client's own steps around a download (README,
// "Memory"): an idle poll answered 304, whose conditional request needs the state the last judgement was made in
// (client.ts #judgedState), and an update's steps from the verified image to its activation. The ports are fakes
// that allocate nothing per call (fixed answers, a fixed store), so that what is counted is the client's own.
import { FotaClient } from "fota/client";
import { fetchBounded } from "fota/fetch";
import { sendReport } from "fota/report";
import { resolveUrl } from "fota/url";
import { parseDeviceConfig } from "fota/config";
import { verify } from "crypto/ed25519";
import SHA256 from "crypto/sha256";
import type { Clock, Flash, Headers, HttpRequest, ResponseSink, Slot, Store, StoreValue, Transport } from "fota/ports";
import { memory, collect } from "sim/memory";
import { test } from "./lib/harness.js";
import { allocated } from "./lib/allocated.js";
import { fromHex } from "./lib/bytes.js";
import { FIXTURE_PUBLIC_KEY, SIGNED } from "./lib/manifest-fixtures.js";

const NEVER = () => {};
const ETAG = "\"m1\"";
const IMAGE = 65536, PIECE = 4096;
const RUNNING = { label: "ota_0", index: 0, size: 2 * 1024 * 1024, state: "valid" as const };
const NEXT: Slot = { label: "ota_1", index: 1, size: 2 * 1024 * 1024 };
const sha256 = (data: Uint8Array) => new Uint8Array(SHA256.hash(data));

/** The server: the signed fixture (version 2.1.0, 65,536 bytes) with its ETag, or 304 to a request that names that
 * ETag; the image in one 206 of PIECE-byte pieces through one buffer; 200 to every report. */
class FakeTransport implements Transport {
	readonly #body = fromHex(SIGNED.sim!.envelope);
	readonly #full: Headers = { etag: ETAG, "content-length": String(fromHex(SIGNED.sim!.envelope).length) };
	readonly #notModified: Headers = { etag: ETAG };
	readonly #image: Headers = { "content-range": `bytes 0-${IMAGE - 1}/${IMAGE}`, "content-length": String(IMAGE) };
	readonly #ok: Headers = {};
	readonly #piece = new Uint8Array(PIECE);
	readonly #handle = { abort: NEVER };
	#sink: ResponseSink | undefined;
	#answer: "manifest" | "not-modified" | "image" | "report" = "manifest";
	requests = 0;
	notModified = 0;
	readonly #deliver = () => this.#run();

	request(request: HttpRequest, sink: ResponseSink): { abort(): void } {
		const headers = request.headers!;
		this.#answer = request.method === "POST" ? "report" : request.url.endsWith(".xsi") ? "image" : "manifest";
		for (let i = 0; i < headers.length; i++)
			if (headers[i]![0] === "if-none-match" && headers[i]![1] === ETAG)
				this.#answer = "not-modified";
		this.#sink = sink;
		this.requests++;
		Promise.resolve().then(this.#deliver);
		return this.#handle;
	}

	#run(): void {
		const sink = this.#sink!, answer = this.#answer;
		if (answer === "not-modified") {
			this.notModified++;
			sink.response(304, this.#notModified);
		}
		else if (answer === "manifest") {
			sink.response(200, this.#full);
			sink.data(this.#body);
		}
		else if (answer === "image") {
			sink.response(206, this.#image);
			for (let at = 0; at < IMAGE; at += PIECE)
				sink.data(this.#piece);
		}
		else
			sink.response(200, this.#ok);
		sink.done();
	}
}

/** A store that keeps its values in one object: a set replaces a property, and allocates nothing of its own. */
class FakeStore implements Store {
	readonly values: Record<string, StoreValue> = {};
	get(key: string): StoreValue | undefined { return this.values[key]; }
	set(key: string, value: StoreValue): void { this.values[key] = value; }
	delete(key: string): void { delete this.values[key]; }
}

/** The slots: every write accepted, the read-back always good; `atVerify` runs when the download is verified, and
 * `atActivate` when the slot is activated. */
const hooks = { atVerify: NEVER, atActivate: NEVER };
const OK = { ok: true };
const flash = {
	sectorSize: 4096,
	running: () => RUNNING,
	next: () => NEXT,
	lastReset: () => "software",
	erase: NEVER,
	write: NEVER,
	invalidate: NEVER,
	verify: () => { hooks.atVerify(); return OK; },
	activate: () => hooks.atActivate(),
	reboot: NEVER,
} as unknown as Flash;
const clock: Clock = { now: () => 0, wall: () => undefined, after: () => NEVER, random: () => 0 };

function deviceConfig() {
	return parseDeviceConfig({ deviceId: "d1", product: "xs-fota-sim", server: "https://fota.example",
		ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		keys: [{ keyId: "21fe31dfa154a261", publicKey: FIXTURE_PUBLIC_KEY }] }, sha256);
}

function client(version = "2.1.0"): { client: FotaClient; transport: FakeTransport; store: FakeStore } {
	const config = deviceConfig();
	const transport = new FakeTransport(), store = new FakeStore();
	const made = new FotaClient({
		config, firmware: { version, kind: "sim" },
		ports: { transport, flash, verifier: { verify }, watchdog: { arm: NEVER, feed: NEVER, disarm: NEVER }, store, clock, events: NEVER },
	});
	return { client: made, transport, store };
}

test("the fakes: a first poll judges the manifest up to date and records its ETag; the next polls are answered 304", async (t) => {
	const { client: c, transport, store } = client();
	t.deepEqual(await c.check(), { result: "none", why: "up-to-date" });
	t.is(transport.notModified, 0);
	t.true(String(store.values["mfjudged"]).includes(ETAG.slice(1, -1)), `judged record: ${String(store.values["mfjudged"])}`);
	t.deepEqual(await c.check(), { result: "none", why: "not-modified" });
	t.deepEqual(await c.check(), { result: "none", why: "not-modified" });
	t.is(transport.requests, 3);
	t.is(transport.notModified, 2);
});

// Figure in brackets: fetch.ts before this test, measured by it: a Promise executor with six closures (the end, the
// watch's callback, the three sink methods), each a function object, and in the sim a copy of its code.
test("a bounded fetch costs one sink object, its Promise and its transfer watch, not a closure per event", async (t) => {
	const transport = new FakeTransport();
	const limits = { deadlineMs: 60000, minBytesPerSecond: 0, windowMs: 60000 };
	const headers: [string, string][] = [["if-none-match", ETAG]];
	const url = "https://fota.example/v1/products/p/manifest?device=d1";
	const empty = await allocated(async () => 0); // what the measurement itself costs
	const fetch = await allocated(() => fetchBounded(transport, clock, url, 4096, 10000, limits, headers));
	const fetched = await fetchBounded(transport, clock, url, 4096, 10000, limits, headers);
	t.is(fetched.status, 304);
	t.is(transport.notModified, 3);
	t.true(fetch - empty <= 6000, `a 304 fetch: ${fetch - empty} bytes (was 8,616)`);
});

// Figure in brackets: report.ts before this test, measured by it: a Promise executor with five closures.
test("a report costs one sink object, its Promise, its body and its transfer watch, not a closure per event", async (t) => {
	const transport = new FakeTransport(), config = deviceConfig();
	const report = { version: "2.1.0", state: "downloading" as const, securityVersion: 0, sequence: 0, slot: 0, target: "2.2.0" };
	let reported = 0;
	const events = (type: string, fields: Record<string, unknown>) => { if (type === "report" && fields.ok === true) reported++; };
	const empty = await allocated(async () => 0);
	const sent = await allocated(() => sendReport(transport, clock, config, events, report));
	t.is(reported, 2);
	t.true(await sendReport(transport, clock, config, events, report));
	t.true(sent - empty <= 8500, `a report: ${sent - empty} bytes (was 10,336)`);
});

// Figures in brackets: client.ts before this test, measured by it: each poll rebuilt the judged state (the keys in
// hex, joined, encoded, their CRC; an array of the state's parts and its join), about 4.5 KB, and awaited the two
// "report again" steps as async functions although there was nothing to send, about 2 KB of frames and promises each.
// Either change undone takes the poll over the bound. What is left: fetchBounded's request (about 9 KB with the fake's
// own job), and the frames of the awaits that remain (check, the manifest request).
test("an idle poll answered 304 neither rebuilds its judged state nor awaits reports that have nothing to send", async (t) => {
	const { client: c, transport } = client();
	await c.check();
	const poll = await allocated(() => c.check());
	t.is(transport.notModified, 2);
	t.true(poll <= 26000, `an idle poll: ${poll} bytes (was 38,568; 27,544 before fetch.ts's sink object)`);
});

// Figure in brackets: client.ts before this test, measured by it: #fetchManifest was an async function, and XS saves an
// async function's frame in a chunk when it starts and again, in a larger chunk, at its first await (inside a try),
// about 3 KB for that one function. The manifest request now hands fetchBounded's Promise on with one .then.
test("a manifest request is not an async function: no frame of its own is saved while the answer is awaited", async (t) => {
	const { client: c, transport } = client();
	await c.check();
	const poll = await allocated(() => c.check());
	t.is(transport.notModified, 2);
	t.true(poll <= 19500, `an idle poll: ${poll} bytes (was 21,312)`);
});

/** Makes room as `allocated` does; then XS's peak from here on is what was allocated since. */
function roomAndMark(): number {
	let room: unknown[] | undefined = [new Uint8Array(512 * 1024)];
	for (let i = 0; i < 16384; i++)
		room.push({ i });
	room = undefined;
	collect();
	return memory(true).current;
}

// Figure in brackets: client.ts before this test, measured by it: the check awaited an async #restartAllowed (its
// frame, its Promise, the job that resumes the check) although no hold was taken.
test("from the verified image to its activation, a check awaits nothing when no hold is taken", async (t) => {
	const { client: c, store } = client("1.0.0");
	let verified = 0, activation = -1;
	t.deepEqual(await c.check(), { result: "activated", version: "2.1.0" }); // a first run makes what stays
	delete store.values["download"];
	hooks.atVerify = () => { verified = roomAndMark(); };
	hooks.atActivate = () => { activation = memory().peak - verified; };
	try {
		t.deepEqual(await c.check(), { result: "activated", version: "2.1.0" });
	} finally {
		hooks.atVerify = hooks.atActivate = NEVER;
	}
	t.true(activation > 0);
	t.true(activation <= 6000, `from the verified image to its activation: ${activation} bytes (was 8,360)`);
});

// Figure in brackets: url.ts before this test, measured by it: the base's path split at its query, the folder and the
// name joined and split into segments, an array of them and its join.
test("an image URL that is a plain name beside the manifest resolves without splitting paths into arrays", (t) => {
	const base = "https://fota.example:8443/v1/products/demo-board/manifest?device=d1";
	t.is(resolveUrl(base, "firmware-2.0.0.bin"), "https://fota.example:8443/v1/products/demo-board/firmware-2.0.0.bin");
	t.is(resolveUrl(base, ""), "https://fota.example:8443/v1/products/demo-board/");
	t.is(resolveUrl(base, ".."), "https://fota.example:8443/v1/products");
	t.is(resolveUrl("https://fota.example/a/./b/../c/m?x=/y/", "f.bin"), "https://fota.example/a/c/f.bin");
	t.is(resolveUrl("https://fota.example", "f.bin"), "https://fota.example/f.bin");
	resolveUrl(base, "firmware-2.0.0.bin");
	collect();
	const before = memory(true);
	resolveUrl(base, "firmware-2.0.0.bin");
	const resolved = memory().peak - before.current;
	t.true(resolved <= 2200, `resolving a plain name: ${resolved} bytes (was 4,672)`);
});
