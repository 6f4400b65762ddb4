// A hostile server for the tests: it sits between the devices and the real update server, speaks HTTP/1.1 over
// TLS byte by byte, and answers each request as a behaviour says: honestly (the upstream's answer, passed on),
// or as a broken or malicious server or CDN would (drips, endless bodies and headers, lies in Content-Range, more
// bytes than signed, a changed image under the same ETag, redirects to http, oversized or truncated headers,
// resets mid-chunk). The faults live here, in the tests, and never in the update server itself.
import { request as httpsRequest } from "node:https";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { offerResumption, type TlsCounts } from "../../tools/server/sessions.js";

export interface Exchange {
	method: string;
	/** the request target as sent (path and query), and its path */
	target: string;
	path: string;
	/** the request's headers, names in lower case */
	headers: Record<string, string>;
	body: Buffer;
	socket: TLSSocket;
	/** the 1-based count of requests for this path so far */
	count: number;
	/** the CN of the certificate the device presented (not checked here: the real server checks what is passed on) */
	deviceId?: string;
}

export interface Answer {
	status: number;
	headers: Record<string, string>;
	body: Buffer;
}

/** How to answer one request; undefined passes it on to the upstream server, unchanged. */
export type Behaviour = (exchange: Exchange, hostile: HostileServer) => Promise<void> | void;

const MAX_REQUEST_HEAD = 16 * 1024;
const STATUS_TEXT: Record<number, string> = { 200: "OK", 204: "No Content", 206: "Partial Content", 302: "Found", 404: "Not Found", 416: "Range Not Satisfiable" };

export class HostileServer {
	behaviour: Behaviour | undefined;
	/** every request seen, in order */
	readonly requests: { method: string; path: string; headers: Record<string, string> }[] = [];
	/** body bytes written per path (without the query) */
	readonly sent = new Map<string, number>();
	url = "";
	/** the full TLS handshakes and resumptions devices made here: it offers resumption as the real server does */
	readonly tls: TlsCounts;
	readonly #server: Server;
	readonly #upstream: URL;
	readonly #ca: string | Buffer;
	readonly #counts = new Map<string, number>();
	readonly #sockets = new Set<TLSSocket>();

	readonly #identity: ((deviceId: string) => { key: string; cert: string }) | undefined;
	readonly #identities = new Map<string, { key: string; cert: string }>();

	/** identity: the client key and certificate to pass a device's requests on with (the device's own are not at
	 * hand): by the CN of the certificate the device presented. */
	constructor(options: { upstream: string; ca: string | Buffer; cert: string | Buffer; key: string | Buffer; identity?: (deviceId: string) => { key: string; cert: string } }) {
		this.#upstream = new URL(options.upstream);
		this.#ca = options.ca;
		this.#identity = options.identity;
		this.#server = createServer({ cert: options.cert, key: options.key, requestCert: true, rejectUnauthorized: false }, (socket) => this.#accept(socket));
		this.tls = offerResumption(this.#server);
	}

	listen(): Promise<string> {
		return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", () => {
			this.url = `https://localhost:${(this.#server.address() as AddressInfo).port}`;
			resolve(this.url);
		}));
	}

	close(): Promise<void> {
		for (const socket of this.#sockets)
			socket.destroy();
		return new Promise((resolve) => this.#server.close(() => resolve()));
	}

	#accept(socket: TLSSocket): void {
		this.#sockets.add(socket);
		socket.on("close", () => this.#sockets.delete(socket));
		socket.on("error", () => {});
		let head = Buffer.alloc(0);
		const onData = (chunk: Buffer) => {
			head = Buffer.concat([head, chunk]);
			const end = head.indexOf("\r\n\r\n");
			if (end < 0) {
				if (head.length > MAX_REQUEST_HEAD)
					socket.destroy();
				return;
			}
			socket.off("data", onData);
			const lines = head.subarray(0, end).toString("latin1").split("\r\n");
			const [method = "", target = "/"] = lines[0]!.split(" ");
			const headers: Record<string, string> = {};
			for (const line of lines.slice(1)) {
				const colon = line.indexOf(":");
				if (colon > 0)
					headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
			}
			let body = head.subarray(end + 4);
			const length = Number(headers["content-length"] ?? 0);
			const go = () => {
				const path = target.split("?")[0]!;
				const count = (this.#counts.get(path) ?? 0) + 1;
				this.#counts.set(path, count);
				this.requests.push({ method, path, headers });
				const cn = socket.getPeerCertificate()?.subject?.CN;
				const exchange: Exchange = { method, target, path, headers, body: body.subarray(0, length), socket, count, ...(typeof cn === "string" ? { deviceId: cn } : {}) };
				Promise.resolve((this.behaviour ?? passOn)(exchange, this)).catch(() => socket.destroy());
			};
			if (body.length >= length)
				return go();
			const more = (chunk: Buffer) => {
				body = Buffer.concat([body, chunk]);
				if (body.length >= length) {
					socket.off("data", more);
					go();
				}
			};
			socket.on("data", more);
		};
		socket.on("data", onData);
	}

	/** The upstream server's answer to this request, read whole. */
	upstream(exchange: Exchange, headers: Record<string, string> = forwarded(exchange.headers)): Promise<Answer> {
		let identity: { key: string; cert: string } | undefined;
		if (exchange.deviceId !== undefined && this.#identity) {
			identity = this.#identities.get(exchange.deviceId) ?? this.#identity(exchange.deviceId);
			this.#identities.set(exchange.deviceId, identity);
		}
		return new Promise((resolve, reject) => {
			const request = httpsRequest({
				host: this.#upstream.hostname, port: this.#upstream.port, method: exchange.method,
				path: exchange.target, ca: this.#ca, headers, agent: false, ...(identity ? { key: identity.key, cert: identity.cert } : {}),
			}, (response) => {
				const chunks: Buffer[] = [];
				response.on("data", (chunk: Buffer) => chunks.push(chunk));
				response.on("end", () => resolve({
					status: response.statusCode ?? 502,
					headers: Object.fromEntries(Object.entries(response.headers).filter(([, v]) => typeof v === "string")) as Record<string, string>,
					body: Buffer.concat(chunks),
				}));
				response.on("error", reject);
			});
			request.on("error", reject);
			request.end(exchange.body.length ? exchange.body : undefined);
		});
	}

	/** Writes the status line and headers as given (with Connection: close), nothing else. */
	writeHead(exchange: Exchange, status: number, headers: Record<string, string | number>): void {
		let text = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Status"}\r\n`;
		for (const [name, value] of Object.entries({ ...headers, connection: "close" }))
			text += `${name}: ${value}\r\n`;
		exchange.socket.write(text + "\r\n");
	}

	/** Writes body bytes and counts them for the path; resolves false once the device has gone. */
	write(exchange: Exchange, data: Buffer): Promise<boolean> {
		const socket = exchange.socket;
		if (socket.destroyed || !socket.writable)
			return Promise.resolve(false);
		this.sent.set(exchange.path, (this.sent.get(exchange.path) ?? 0) + data.length);
		if (socket.write(data))
			return Promise.resolve(true);
		return new Promise((resolve) => {
			const done = (ok: boolean) => { socket.off("drain", drained); socket.off("close", closed); resolve(ok); };
			const drained = () => done(true);
			const closed = () => done(false);
			socket.on("drain", drained);
			socket.on("close", closed);
		});
	}

	/** A whole answer: head, body, end. */
	async answer(exchange: Exchange, answer: Answer): Promise<void> {
		const headers: Record<string, string | number> = { ...withoutHopHeaders(answer.headers) };
		if (answer.status !== 204)
			headers["content-length"] = answer.body.length;
		this.writeHead(exchange, answer.status, headers);
		if (answer.body.length)
			await this.write(exchange, answer.body);
		exchange.socket.end();
	}
}

/** The request headers worth passing to the upstream. */
export function forwarded(headers: Record<string, string>): Record<string, string> {
	const kept: Record<string, string> = {};
	for (const name of ["range", "if-range", "content-type", "content-length", "user-agent"]) {
		if (headers[name] !== undefined)
			kept[name] = headers[name]!;
	}
	return kept;
}

function withoutHopHeaders(headers: Record<string, string>): Record<string, string> {
	const kept: Record<string, string> = {};
	for (const [name, value] of Object.entries(headers)) {
		if (!["connection", "keep-alive", "transfer-encoding", "content-length", "date"].includes(name))
			kept[name] = value;
	}
	return kept;
}

/** The honest behaviour: the upstream's answer. */
export const passOn: Behaviour = async (exchange, hostile) => hostile.answer(exchange, await hostile.upstream(exchange));

export const isImage = (exchange: Exchange) => exchange.method === "GET" && exchange.path.endsWith(".bin");
export const isManifest = (exchange: Exchange) => exchange.method === "GET" && exchange.path.endsWith("/manifest");
export const isReport = (exchange: Exchange) => exchange.method === "POST" && exchange.path.endsWith("/report");

/** Applies `behaviour` to the requests `which` selects and passes the others on. */
export function only(which: (exchange: Exchange) => boolean, behaviour: Behaviour): Behaviour {
	return (exchange, hostile) => (which(exchange) ? behaviour : passOn)(exchange, hostile);
}

/** The upstream's answer, with its body cut after `bytes` bytes (the connection then ends, as a cut link). */
export function cutAfter(bytes: number): Behaviour {
	return async (exchange, hostile) => {
		const answer = await hostile.upstream(exchange);
		const headers: Record<string, string | number> = { ...withoutHopHeaders(answer.headers), "content-length": answer.body.length };
		hostile.writeHead(exchange, answer.status, headers);
		await hostile.write(exchange, answer.body.subarray(0, bytes));
		exchange.socket.end();
	};
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Cuts the first image response after `bytes` body bytes; passes everything else on. */
export function cutImageOnce(bytes: number): Behaviour {
	let cut = false;
	return only(isImage, (exchange, hostile) => {
		if (cut)
			return passOn(exchange, hostile);
		cut = true;
		return cutAfter(bytes)(exchange, hostile);
	});
}

/** A server that ignores Range: every image request gets 200 and the whole file. */
export const ignoringRange: Behaviour = async (exchange, hostile) => {
	const headers = forwarded(exchange.headers);
	delete headers["range"];
	delete headers["if-range"];
	const answer = await hostile.upstream(exchange, headers);
	await hostile.answer(exchange, { ...answer, headers: { ...answer.headers, "accept-ranges": "none" } });
};

/** Then: one behaviour for the first request it sees, another for the rest. */
export function firstThen(first: Behaviour, rest: Behaviour): Behaviour {
	let used = false;
	return (exchange, hostile) => {
		const behaviour = used ? rest : first;
		used = true;
		return behaviour(exchange, hostile);
	};
}
