// The transport port on the sim host: HTTPS through libcurl, trusting only the CA from the device config, and
// presenting the device's own key and certificate (mutual TLS) when the config gives them. They reach libcurl
// as in-memory PEM, never as files (hosts/sim/c/http.c). The requests of a check share one connection (and, when
// the server closed it, resume its TLS session): that is the native's doing, for every request alike.
// No garbage per chunk, and no buffer per request: the transport owns one ArrayBuffer, made with it, that the native
// refills for every piece of every request (requests of one transport lend it in turn; the client's run one at a
// time, and a piece is handed over and consumed before the next is copied in), and the sink gets one view over it,
// made once (a shorter piece gets a shorter view). So a chunk is valid only during sink.data (ResponseSink,
// fota/ports). A request costs its options, its native object (also its abort handle) and its one callback.
import HttpRequest from "./http-request.js";
import type { HttpRequest as Request, ResponseSink, Transport } from "fota/ports";

export interface SimIdentity {
	/** PEM: the CA that signed the server's certificate (the only one trusted). */
	ca: string;
	/** PEM "PRIVATE KEY" and PEM "CERTIFICATE" chain: the device's identity for mutual TLS, both or neither. */
	clientKey?: string;
	clientCertificates?: string;
}

export class SimTransport implements Transport {
	readonly #identity: SimIdentity;
	/** the one receive buffer, and a view over all of it */
	readonly #buffer: ArrayBuffer;
	readonly #whole: Uint8Array;
	/** chunk: the receive buffer's bytes, the most a piece holds. 16 KiB by default, a TLS record's most: one piece a
	 * record, so a download writes each 16 KiB with one call, and the board's flash puts its erases and its bytes in
	 * the file in one pwrite (hosts/sim/c/board/flash.c); with 4 KiB pieces the board spent about 4 times the calls
	 * and system calls for the same bytes (docs/speed.md, "The fifth pass"). */
	constructor(identity: SimIdentity, chunk = 16 * 1024) {
		if ((identity.clientKey === undefined) !== (identity.clientCertificates === undefined))
			throw new TypeError("transport: a client key needs its certificates, and certificates need their key");
		this.#identity = identity;
		this.#buffer = new ArrayBuffer(chunk);
		this.#whole = new Uint8Array(this.#buffer);
	}
	request(request: Request, sink: ResponseSink): { abort(): void } {
		const identity = this.#identity, whole = this.#whole;
		return new HttpRequest({
			url: request.url,
			method: request.method ?? "GET",
			headers: request.headers ?? [],
			body: request.body,
			ca: identity.ca,
			clientKey: identity.clientKey,
			clientCertificates: identity.clientCertificates,
			timeout: request.timeout,
			buffer: this.#buffer,
		}, (event: string, a?: any, b?: any) => {
			if (event === "data")
				sink.data(b === whole.length ? whole : whole.subarray(0, b as number));
			else if (event === "response")
				sink.response(a, b ?? {});
			else
				sink.done(a);
		});
	}
}
