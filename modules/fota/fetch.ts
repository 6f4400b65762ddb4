// A GET whose whole body is wanted, bounded in size before anything is parsed.
// The body is copied once, into one array: of the declared length when the server gives one within the bound (the
// usual case), grown only for a body of unknown length; no list of pieces (README, "Memory").
import { TransientError } from "./errors.js";
import { watchTransfer, type TransferLimits } from "./transfer.js";
import type { Clock, Headers, Transport } from "./ports.js";

export interface Fetched {
	status: number;
	headers: Headers;
	body: Uint8Array;
}

export class TooLarge extends Error {
	override name = "TooLarge";
}

const EMPTY = new Uint8Array(0);

export function fetchBounded(transport: Transport, clock: Clock, url: string, maxBytes: number, timeoutMs: number, limits: TransferLimits,
	headers: [string, string][] = []): Promise<Fetched> {
	return new Promise((resolve, reject) => {
		let status = 0, responseHeaders: Headers = {}, length = 0, settled = false;
		let body = EMPTY; // its first `length` bytes are the body so far
		const finish = (error?: Error) => {
			if (settled)
				return;
			settled = true;
			watch.stop();
			if (error)
				return reject(error);
			resolve({ status, headers: responseHeaders, body: length === body.length ? body : body.slice(0, length) });
		};
		const watch = watchTransfer(clock, limits, (why) => {
			request.abort();
			finish(new TransientError(`${url}: ${why}`));
		});
		const request = transport.request({ url, headers, timeout: timeoutMs }, {
			response(code, received) {
				status = code;
				responseHeaders = received;
				const declared = Number(received["content-length"]);
				if (Number.isFinite(declared) && declared > maxBytes) {
					request.abort();
					finish(new TooLarge(`${url}: ${declared} bytes, more than ${maxBytes}`));
				}
				else if (Number.isSafeInteger(declared) && declared > 0)
					body = new Uint8Array(declared);
			},
			data(chunk) {
				watch.received(chunk.length);
				const end = length + chunk.length;
				if (end > maxBytes) {
					request.abort();
					return finish(new TooLarge(`${url}: more than ${maxBytes} bytes`));
				}
				if (end > body.length) { // no length declared, or more than it: grow (a longer body fails in done)
					const grown = new Uint8Array(Math.min(maxBytes, Math.max(end, body.length * 2)));
					grown.set(body.subarray(0, length));
					body = grown;
				}
				body.set(chunk, length);
				length = end;
			},
			done(error) {
				if (error)
					return finish(new TransientError(`${url}: ${error}`));
				// a body shorter than the server declared was cut, however the transport reports the end
				const declared = responseHeaders["content-length"];
				if (declared !== undefined && Number(declared) !== length)
					return finish(new TransientError(`${url}: the body ended at ${length} of ${declared} declared bytes`));
				finish();
			},
		});
	});
}
