// The transport port on the sim host: HTTPS through libcurl, trusting only the CA from the device config, and
// presenting the device's own key and certificate (mutual TLS) when the config gives them. They reach libcurl
// as in-memory PEM, never as files (hosts/sim/c/http.c).
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
	readonly #chunk: number;
	constructor(identity: SimIdentity, chunk = 4096) {
		if ((identity.clientKey === undefined) !== (identity.clientCertificates === undefined))
			throw new TypeError("transport: a client key needs its certificates, and certificates need their key");
		this.#identity = identity;
		this.#chunk = chunk;
	}
	request(request: Request, sink: ResponseSink): { abort(): void } {
		const identity = this.#identity;
		const native = new HttpRequest({
			url: request.url,
			method: request.method ?? "GET",
			headers: request.headers ?? [],
			...(request.body !== undefined ? { body: request.body } : {}),
			ca: identity.ca,
			...(identity.clientKey !== undefined ? { clientKey: identity.clientKey, clientCertificates: identity.clientCertificates } : {}),
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
