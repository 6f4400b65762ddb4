// The transport port over Moddable's TLS (`securesocket`), for the ESP32 and the desktop simulator: HTTP/1.1 from
// fota/http1 (framing, header bounds, one kept-alive connection per origin, a stale connection sent again once, the
// stall timeout) over SecureSocket. Moddable's own `http` Request sends `Connection: close`, so each request of a
// check cost a TLS handshake; here a check's manifest, image ranges and report share one. The connection trusts only
// the CA from the device config (DER, pinned as SecureSocket's `certificate`), presents the device's key and
// certificates for mutual TLS, and speaks TLS 1.2 (protocolVersion 0x303). Each body fragment goes to the sink as it
// arrives (the image is never held in memory). No redirects are followed.
// Session resumption: Moddable's TLS (modules/crypt/ssl/session_original.js with ssl/cache, a single-entry cache
// keyed by host name) offers the session ID of the last full handshake with that host in its next ClientHello, and
// resumes when the server accepts it. It is on by default (`secure.cache` unset), so a connection the server closed
// is reopened with a resumed (abbreviated) handshake when the server keeps session IDs; it has no session tickets.
import SecureSocket from "securesocket";
import Timer from "timer";
import { Http1Client, type Connection, type ConnectionEvents, type Dialer } from "fota/http1";
import { MAX_HEADERS, MAX_HEADER_BYTES } from "fota/protocol";
import type { HttpRequest, ResponseSink, Transport } from "fota/ports";
import { pemBlocks } from "./pem.js";
import { TimerClock } from "./clock.js";

/**
 * SecureSocket, with its close deferred to a timer. A connection is closed from inside the socket's own callback (a
 * response that ends with `Connection: close`, a framing error, an abort from a sink); in the desktop simulator the
 * TCP socket's native code then touches the closed socket on the way out of that callback and the process crashes (a
 * longjmp with no handler; first seen with Moddable's http Request closing after a 204). Marked closing at once, the
 * socket ignores further callbacks; it really closes on the next turn, unless the server's hang-up closed it first.
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

// SecureSocket's callback messages (modules/crypt/securesocket/securesocket.js): 1 the handshake is done, 2 bytes to
// read (at most 1 KB a call), 3 room to write; below 0 the socket was cut (-1) or failed (-2).
const CONNECTED = 1, READABLE = 2, WRITABLE = 3;

/** One TLS connection: writes queued until the socket has room (SecureSocket.write() says how much). */
class TlsConnection implements Connection {
	readonly #socket: any;
	readonly #events: ConnectionEvents;
	#queue: Uint8Array | undefined;
	#offset = 0;
	#ended = false;

	constructor(host: string, port: number, secure: Record<string, unknown>, events: ConnectionEvents) {
		this.#events = events;
		this.#socket = new DeferredCloseSocket({ host, port, secure });
		this.#socket.callback = (message: number, value?: number) => this.#on(message, value);
	}

	#on(message: number, value?: number): void {
		if (this.#ended)
			return;
		try {
			if (message === CONNECTED)
				this.#events.connected();
			else if (message === READABLE) {
				const bytes: ArrayBuffer = this.#socket.read(ArrayBuffer);
				if (bytes && bytes.byteLength)
					this.#events.data(new Uint8Array(bytes));
			}
			else if (message === WRITABLE)
				this.#flush();
			else if (message < 0) {
				this.#ended = true;
				this.#events.closed(message === -1 ? "closed by the server" : `socket error ${message}${value !== undefined ? ` ${value}` : ""}`);
			}
		} catch (error) {
			if (!this.#ended) {
				this.#ended = true;
				this.close();
				this.#events.closed(`socket handling failed: ${(error as Error).message}`);
			}
		}
	}

	write(bytes: Uint8Array): void {
		if (this.#ended)
			throw new Error("write on a closed connection");
		if (this.#queue !== undefined && this.#offset < this.#queue.length)
			throw new Error("a write while one is still queued (one request at a time)");
		this.#queue = bytes;
		this.#offset = 0;
		this.#flush();
	}

	#flush(): void {
		const queue = this.#queue;
		while (queue !== undefined && this.#offset < queue.length) {
			const room: number = this.#socket.write();
			if (room <= 0)
				return; // the rest when the socket says it has room (WRITABLE)
			const n = Math.min(room, queue.length - this.#offset, 4096);
			this.#socket.write(queue.subarray(this.#offset, this.#offset + n));
			this.#offset += n;
		}
		this.#queue = undefined;
	}

	close(): void {
		this.#ended = true;
		this.#queue = undefined;
		this.#socket.close();
	}
}

export class ModdableTransport implements Transport {
	readonly #secure: Record<string, unknown>;
	readonly #client: Http1Client;

	constructor(identity: TlsIdentity) {
		this.#secure = { certificate: pemBlocks(identity.ca, "CERTIFICATE")[0], protocolVersion: 0x303 };
		if (identity.clientKey !== undefined || identity.clientCertificates !== undefined) {
			if (identity.clientKey === undefined || identity.clientCertificates === undefined)
				throw new TypeError("transport: a client key needs its certificates, and certificates need their key");
			this.#secure.clientKey = pemBlocks(identity.clientKey, "PRIVATE KEY")[0];
			this.#secure.clientCertificates = pemBlocks(identity.clientCertificates, "CERTIFICATE");
		}
		const secure = this.#secure;
		const dialer: Dialer = {
			connect: (host, port, events) => new TlsConnection(host, port, secure, events),
		};
		this.#client = new Http1Client(dialer, new TimerClock());
	}

	/** TLS connections opened so far (each one handshake, full or resumed). */
	get connections(): number {
		return this.#client.connections;
	}

	request(request: HttpRequest, sink: ResponseSink): { abort(): void } {
		return this.#client.request(request, sink);
	}

	/** Closes the kept-alive connection, if any. */
	close(): void {
		this.#client.close();
	}
}
