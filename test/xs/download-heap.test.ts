// Garbage, measured inside XS (the sim host's sim/memory), of a download's two paths (README, "Memory"): the path of
// each piece of body (from the transport's data event to the flash write) allocates nothing, and each ranged request
// costs a bounded handful of objects: its Promise, its Range header, its transfer watch. One sink object serves
// every request of a download (modules/fota/download.ts). The ports are fakes that allocate nothing per call (the
// transport hands one refilled buffer, as the sim's does), so that what is counted is download.ts's own.
import { downloadImage, type DownloadPorts } from "fota/download";
import type { Progress, Records } from "fota/records";
import type { Clock, Flash, Headers, HttpRequest, ResponseSink, Slot, SlotVerdict, Transport } from "fota/ports";
import { test } from "./lib/harness.js";
import { allocated } from "./lib/allocated.js";

const PIECE = 4096;
const SECTOR = 4096;
const SLOT: Slot = { label: "ota_1", index: 1, size: 2 * 1024 * 1024 };
const SHA256 = "00".repeat(32);
const OK: SlotVerdict = { ok: true };
const NEVER = () => {};

/** A server behind the transport: answers each ranged GET with at most `answer` bytes (a short 206 when fewer than
 * asked), in pieces of PIECE bytes through one buffer, after the request returns (a job, as a real transport's loop). */
class FakeTransport implements Transport {
	readonly #buffer = new Uint8Array(PIECE);
	readonly #whole: Uint8Array = this.#buffer;
	readonly #headers: Headers = {};
	readonly #handle = { abort: NEVER };
	#sink: ResponseSink | undefined;
	#from = 0;
	#to = 0;
	#size = 0;
	answer = Infinity;
	requests = 0;
	readonly #deliver = () => this.#run();

	request(request: HttpRequest, sink: ResponseSink): { abort(): void } {
		const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers![0]![1])!;
		this.#from = Number(range[1]);
		this.#to = Math.min(Number(range[2]) + 1, this.#from + this.answer);
		this.#size = Number(range[2]) + 1;
		this.#headers["content-range"] = `bytes ${this.#from}-${this.#to - 1}/${this.#size}`;
		this.#sink = sink;
		this.requests++;
		Promise.resolve().then(this.#deliver);
		return this.#handle;
	}

	#run(): void {
		const sink = this.#sink!;
		sink.response(206, this.#headers);
		for (let at = this.#from; at < this.#to; at += PIECE) {
			this.#buffer[0] = at >> 12; // the bytes change, the buffer stays
			sink.data(this.#to - at >= PIECE ? this.#whole : this.#whole.subarray(0, this.#to - at));
		}
		sink.done();
	}
}

class FakeFlash {
	readonly sectorSize = SECTOR;
	erased = 0;
	written = 0;
	erase(_slot: Slot, _offset: number, length: number): void { this.erased += length; }
	write(_slot: Slot, _offset: number, data: Uint8Array): void { this.written += data.length; }
	invalidate(): void {}
	verify(): SlotVerdict { return OK; }
}

/** The download record, kept as the object itself: its JSON and the store are records.ts's and nvs-log's to count. */
class FakeRecords {
	#progress: Progress | undefined;
	checkpoints = 0;
	get progress(): Progress | undefined { return this.#progress; }
	set progress(value: Progress | undefined) { this.#progress = value; this.checkpoints++; }
	checkpoint(offset: number): void { this.#progress!.offset = offset; this.checkpoints++; }
}

const clock: Clock = { now: () => 0, wall: () => undefined, after: () => NEVER, random: () => 0 };

function setup(answer = Infinity) {
	const transport = new FakeTransport();
	transport.answer = answer;
	const flash = new FakeFlash();
	const ports: DownloadPorts = { transport, flash: flash as unknown as Flash, events: NEVER, clock };
	return { transport, flash, ports };
}

/** A download of `size` bytes; each run starts afresh (a new download record) and counts what it did. */
function download(size: number, answer = Infinity, chunkBytes = 1024 * 1024) {
	const { transport, flash, ports } = setup(answer);
	const plan = { url: "https://fota.example/image.bin", sequence: 2, size, sha256: SHA256, slot: SLOT, chunkBytes, timeoutMs: 10000,
		limits: { deadlineMs: 60000, minBytesPerSecond: 0, windowMs: 60000 } };
	const made = {
		transport, flash, records: new FakeRecords(),
		run: () => {
			made.records = new FakeRecords();
			transport.requests = flash.written = flash.erased = 0;
			return downloadImage(ports, made.records as unknown as Records, plan);
		},
	};
	return made;
}

test("the fakes deliver the image whole: every byte erased once and written once, in one request or in short ranges", async (t) => {
	const whole = download(64 * 1024);
	await whole.run();
	t.is(whole.transport.requests, 1);
	t.is(whole.flash.written, 64 * 1024);
	t.is(whole.flash.erased, 64 * 1024);
	t.is(whole.records.progress!.offset, 64 * 1024);
	const short = download(64 * 1024, PIECE, 16 * 1024);
	await short.run();
	t.is(short.transport.requests, 16);
	t.is(short.flash.written, 64 * 1024);
	t.is(short.records.progress!.offset, 64 * 1024);
	t.is(short.records.checkpoints, 1 + 4); // the new record, then every 16 KiB
});

test("a download's path for each piece of body allocates nothing: 448 pieces more cost no more memory", async (t) => {
	const small = download(64 * 1024), large = download(64 * 1024 + 448 * PIECE);
	const few = await allocated(small.run);
	const many = await allocated(large.run);
	t.is(large.flash.written, 64 * 1024 + 448 * PIECE);
	t.is(large.transport.requests, 1);
	t.true(many - few <= 256, `${many - few} bytes more for 448 more pieces (${few} for 16 pieces)`);
});

// Figures in brackets: download.ts before the sink object (a Promise executor per request with a closure per event,
// per bound and per guard), measured by this same test. A request here also counts the fake server's own costs (its
// job, its Content-Range), about 3 KB.
test("each ranged request of a download costs a bounded handful of objects, not a set of closures", async (t) => {
	const one = download(64 * 1024), sixteen = download(64 * 1024, PIECE);
	const single = await allocated(one.run);
	const ranged = await allocated(sixteen.run);
	t.is(sixteen.transport.requests, 16);
	t.is(sixteen.flash.written, 64 * 1024);
	const perRequest = Math.round((ranged - single) / 15);
	t.true(perRequest <= 9000, `${perRequest} bytes a request (was 22,057)`);
	t.true(single <= 18000, `a download in one request: ${single} bytes (was 27,960)`);
});

// Figure in brackets: download.ts before this test, measured by it: downloadImage was an async function that awaited
// each request's Promise in a loop inside a try, so XS saved its frame in a chunk at its start and again, in a larger
// one, at the await. The download's one object now settles one Promise for the whole download.
test("a download is not an async function: one Promise for the download, no frame saved while a request runs", async (t) => {
	const one = download(64 * 1024);
	const single = await allocated(one.run);
	t.is(one.transport.requests, 1);
	t.is(one.flash.written, 64 * 1024);
	t.true(single <= 12600, `a download in one request: ${single} bytes (was 13,488)`);
});
