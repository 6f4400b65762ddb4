// The transport port over Moddable's HTTP client (`http` Request) and TLS (`securesocket`), for the ESP32 and the
// desktop simulator. It trusts only the CA from the device config (DER, pinned as SecureSocket's `certificate`),
// streams each body fragment to the sink as it arrives (the image is never held in memory), and ends a request
// that stalls for longer than its timeout. Moddable's client follows no redirects and sends `Connection: close`.
import { Request } from "http";
import SecureSocket from "securesocket";
import Timer from "timer";
import { splitHttpsUrl } from "fota/url";
import { MAX_HEADERS, MAX_HEADER_BYTES } from "fota/protocol";
import type { Headers, HttpRequest, ResponseSink, Transport } from "fota/ports";
import { pemBlocks } from "./pem.js";

/**
 * SecureSocket, with its close deferred to a timer. Moddable's http Request closes its socket inside the socket's
 * own callback when a response has no body (a 204, Content-Length: 0); in the desktop simulator the TCP socket's
 * native code then touches the closed socket on the way out and the process crashes (a longjmp with no handler).
 * Marked closing at once, the socket ignores further callbacks; it really closes on the next turn, unless the
 * server's hang-up closed it first.
 */
class DeferredCloseSocket extends SecureSocket {
	override close(): void {
		(this as unknown as { closing: boolean }).closing = true;
		Timer.set(() => {
			try {
				super.close();
			} catch {
				// the TCP socket was closed already (the server hung up first): "close on closed socket"
			}
		}, 0);
	}
}

/** Bounds on what a server may send before the body: more is an error, not an allocation. */
export { MAX_HEADERS, MAX_HEADER_BYTES };

export interface TlsIdentity {
	/** PEM: the CA that signed the server's certificate (the only one trusted). */
	ca: string;
	/** PEM: the device's own key and certificate chain, for mutual TLS. */
	clientKey?: string;
	clientCertificates?: string;
}

export class ModdableTransport implements Transport {
	readonly #secure: Record<string, unknown>;
	constructor(identity: TlsIdentity) {
		this.#secure = { certificate: pemBlocks(identity.ca, "CERTIFICATE")[0], protocolVersion: 0x303 };
		if (identity.clientKey !== undefined || identity.clientCertificates !== undefined) {
			if (identity.clientKey === undefined || identity.clientCertificates === undefined)
				throw new TypeError("transport: a client key needs its certificates, and certificates need their key");
			this.#secure.clientKey = pemBlocks(identity.clientKey, "PRIVATE KEY")[0];
			this.#secure.clientCertificates = pemBlocks(identity.clientCertificates, "CERTIFICATE");
		}
	}

	request(request: HttpRequest, sink: ResponseSink): { abort(): void } {
		const { host, port, path } = splitHttpsUrl(request.url);
		const flat: string[] = [];
		for (const [name, value] of request.headers ?? [])
			flat.push(name, value);
		let finished = false, status = 0, headerCount = 0, headerBytes = 0;
		const headers: Headers = {};
		let client: any;
		let timer: any;
		const finish = (error?: string) => {
			if (finished)
				return;
			finished = true;
			if (timer !== undefined)
				Timer.clear(timer);
			timer = undefined;
			try {
				client?.close();
			} catch {
				// already closed by the client itself
			}
			sink.done(error);
		};
		// One timer for the connect and every stall: each callback restarts it.
		timer = Timer.repeat(() => finish(`no data for ${request.timeout} ms`), Math.max(1, request.timeout));
		const alive = () => {
			if (timer !== undefined)
				Timer.schedule(timer, Math.max(1, request.timeout), Math.max(1, request.timeout));
		};
		try {
			// The typings leave out the Socket and secure properties that the SecureSocket documentation gives.
			const options: Record<string, unknown> = {
				host, port, path,
				method: request.method ?? "GET",
				headers: flat,
				...(request.body !== undefined ? { body: request.body } : {}),
				Socket: DeferredCloseSocket,
				secure: this.#secure,
			};
			client = new Request(options as ConstructorParameters<typeof Request>[0]);
		} catch (error) {
			Timer.clear(timer);
			finished = true;
			throw error;
		}
		client.callback = function (this: any, message: number, value?: any, etc?: any) {
			if (finished)
				return;
			alive();
			try {
				if (message === Request.status)
					status = value;
				else if (message === Request.header) {
					headerCount += 1;
					headerBytes += String(value).length + String(etc).length + 4;
					if (headerCount > MAX_HEADERS || headerBytes > MAX_HEADER_BYTES)
						return finish(`response headers exceed ${MAX_HEADERS} lines or ${MAX_HEADER_BYTES} bytes`);
					headers[String(value).toLowerCase()] = String(etc);
				}
				else if (message === Request.headersComplete)
					sink.response(status, headers);
				else if (message === Request.responseFragment) {
					const chunk: ArrayBuffer = this.read(ArrayBuffer);
					if (chunk && chunk.byteLength)
						sink.data(new Uint8Array(chunk));
				}
				else if (message === Request.responseComplete)
					finish();
				else if (message < 0)
					finish(`connection to ${host}:${port} failed or was cut (${value ?? "no detail"})`);
			} catch (error) {
				finish(`response handling failed: ${(error as Error).message}`);
			}
		};
		return { abort: () => finish("aborted") };
	}
}
