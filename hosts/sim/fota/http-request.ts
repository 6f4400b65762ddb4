// The sim host's native HTTPS request (hosts/sim/c/http.c), over libcurl with the CA pinned by the caller and,
// for mutual TLS, the caller's client key and certificates (PEM text, handed to libcurl in memory).
export interface HttpRequestOptions {
	url: string;
	method?: "GET" | "POST";
	headers?: [string, string][];
	body?: string;
	ca: string;
	/** PEM "PRIVATE KEY" and PEM "CERTIFICATE" blocks (the device's first): both or neither */
	clientKey?: string;
	clientCertificates?: string;
	timeout?: number;
	/** the largest piece of body handed over at a time (4096 by default), unless `buffer` is given */
	chunk?: number;
	/** the caller's ArrayBuffer (256 bytes to 64 KiB), refilled for every piece of the body: no buffer per request, and
	 * no piece larger than it. Without it, the request makes its own at its first data event. */
	buffer?: ArrayBuffer;
}

/** event is "response" (status, headers), "data" (the request's one ArrayBuffer, refilled each time, and the length of
 * this piece in it, from its start: valid only during the call), or "done" (error message or undefined, curl code) */
export type HttpCallback = (event: string, a?: any, b?: any) => void;

export default class HttpRequest extends Native("xs_http_destructor") {
	constructor(options: HttpRequestOptions, callback: HttpCallback) {
		super();
		native("xs_http_request").call(this, options, callback);
	}
	abort(): void {
		native("xs_http_abort").call(this);
	}
}
