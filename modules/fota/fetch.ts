// A GET whose whole body is wanted, bounded in size before anything is parsed.
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

export function fetchBounded(transport: Transport, clock: Clock, url: string, maxBytes: number, timeoutMs: number, limits: TransferLimits,
	headers: [string, string][] = []): Promise<Fetched> {
	return new Promise((resolve, reject) => {
		let status = 0, responseHeaders: Headers = {}, length = 0, settled = false;
		const parts: Uint8Array[] = [];
		const finish = (error?: Error) => {
			if (settled)
				return;
			settled = true;
			watch.stop();
			if (error)
				return reject(error);
			const body = new Uint8Array(length);
			let at = 0;
			for (const part of parts) {
				body.set(part, at);
				at += part.length;
			}
			resolve({ status, headers: responseHeaders, body });
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
			},
			data(chunk) {
				watch.received(chunk.length);
				length += chunk.length;
				if (length > maxBytes) {
					request.abort();
					return finish(new TooLarge(`${url}: more than ${maxBytes} bytes`));
				}
				parts.push(chunk.slice());
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
