// fetchBounded (modules/fota/fetch.ts), which now copies a body once into one array: of the declared length, or grown
// for a body of unknown length. On a scripted transport that hands one buffer refilled for every piece (as the sim's
// does): the body is exact in both paths, and the bounds hold (more than the most, a body cut short of or running past
// its declared length, a declared length over the most).
import test from "ava";
import { fetchBounded, TooLarge } from "../../modules/fota/fetch.js";
import { TransientError } from "../../modules/fota/errors.js";
import type { Clock, Headers, HttpRequest, ResponseSink, Transport } from "../../modules/fota/ports.js";

const clock: Clock = { now: () => 0, wall: () => undefined, after: () => () => {}, random: () => 0.5 };
const LIMITS = { deadlineMs: 60_000, minBytesPerSecond: 0, windowMs: 1000 };

/** Answers with these headers and this body in pieces of `piece` bytes, through one reused buffer. */
function scripted(headers: Headers, body: Uint8Array, piece: number): Transport & { aborted: number } {
	const transport = {
		aborted: 0,
		request(_request: HttpRequest, sink: ResponseSink) {
			let stopped = false;
			queueMicrotask(() => {
				sink.response(200, headers);
				const buffer = new Uint8Array(piece);
				for (let at = 0; at < body.length && !stopped; at += piece) {
					const length = Math.min(piece, body.length - at);
					buffer.set(body.subarray(at, at + length));
					sink.data(buffer.subarray(0, length));
					buffer.fill(0xee); // the piece is valid only during the call
				}
				if (!stopped)
					sink.done();
			});
			return { abort() { stopped = true; transport.aborted++; } };
		},
	};
	return transport;
}

function bytes(length: number): Uint8Array {
	return Uint8Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff);
}

test("a body with its length declared and one without arrive exact, piece by piece through a refilled buffer", async (t) => {
	for (const [length, piece] of [[1, 1], [300, 7], [4096, 1000], [4096, 4096], [2500, 64]] as const) {
		const body = bytes(length);
		const declared = await fetchBounded(scripted({ "content-length": String(length) }, body, piece), clock, "https://s/m", 4096, 1000, LIMITS);
		t.deepEqual(declared.body, body, `declared ${length} in ${piece}`);
		t.is(declared.body.length, length);
		const unknown = await fetchBounded(scripted({}, body, piece), clock, "https://s/m", 4096, 1000, LIMITS);
		t.deepEqual(unknown.body, body, `unknown ${length} in ${piece}`);
		t.is(unknown.body.length, length);
	}
	const empty = await fetchBounded(scripted({ "content-length": "0" }, new Uint8Array(0), 10), clock, "https://s/m", 4096, 1000, LIMITS);
	t.is(empty.body.length, 0);
});

test("bounds: more than the most, a declared length over it, a body cut short of or running past its declared length", async (t) => {
	await t.throwsAsync(fetchBounded(scripted({}, bytes(4097), 1000), clock, "https://s/m", 4096, 1000, LIMITS), { instanceOf: TooLarge });
	await t.throwsAsync(fetchBounded(scripted({ "content-length": "4097" }, bytes(10), 10), clock, "https://s/m", 4096, 1000, LIMITS), { instanceOf: TooLarge });
	await t.throwsAsync(fetchBounded(scripted({ "content-length": "100" }, bytes(60), 16), clock, "https://s/m", 4096, 1000, LIMITS),
		{ instanceOf: TransientError, message: /ended at 60 of 100/ });
	await t.throwsAsync(fetchBounded(scripted({ "content-length": "100" }, bytes(130), 16), clock, "https://s/m", 4096, 1000, LIMITS),
		{ instanceOf: TransientError, message: /ended at 130 of 100/ });
	const transport = scripted({ "content-length": "100" }, bytes(5000), 1000);
	await t.throwsAsync(fetchBounded(transport, clock, "https://s/m", 4096, 1000, LIMITS), { instanceOf: TooLarge });
	t.is(transport.aborted, 1);
});
