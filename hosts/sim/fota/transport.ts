// The transport port on the sim host: HTTPS through libcurl, trusting only the CA from the device config.
import HttpRequest from "./http-request.js";
import type { HttpRequest as Request, ResponseSink, Transport } from "fota/ports";

export class SimTransport implements Transport {
	readonly #ca: string;
	readonly #chunk: number;
	constructor(ca: string, chunk = 4096) {
		this.#ca = ca;
		this.#chunk = chunk;
	}
	request(request: Request, sink: ResponseSink): { abort(): void } {
		const native = new HttpRequest({
			url: request.url,
			method: request.method ?? "GET",
			headers: request.headers ?? [],
			...(request.body !== undefined ? { body: request.body } : {}),
			ca: this.#ca,
			timeout: request.timeout,
			chunk: this.#chunk,
		}, (event: string, a?: any, b?: any) => {
			if (event === "response")
				sink.response(a, b ?? {});
			else if (event === "data")
				sink.data(new Uint8Array(a));
			else
				sink.done(a);
		});
		return { abort: () => native.abort() };
	}
}
