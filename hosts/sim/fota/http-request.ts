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
	chunk?: number;
}

/** event is "response" (status, headers), "data" (the request's one ArrayBuffer, refilled each time, and the length of
 * this piece in it: valid only during the call), or "done" (error message or undefined, curl code) */
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
