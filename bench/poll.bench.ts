// What an up-to-date device's idle poll costs on the wire, on the simulated board (the real client, libcurl) against
// the real server, with a release out that the device already runs:
//   idle_poll_http_bytes               the conditional poll's HTTP request and 304 response, every header included,
//                                      counted as plaintext by a TLS-terminating relay in front of the server (it
//                                      passes the bytes on as they are, and asks the server with the device's identity)
//   idle_poll_http_bytes_unconditional the same device's first poll, which names no ETag: the whole signed manifest
//   idle_poll_wire_bytes               the conditional poll on a new connection with a full handshake, every TLS
//                                      record both ways, counted on a TCP relay in front of the server (the bytes the
//                                      server's socket moves: tools/demo/tls-tap.ts); the board restarts first, so it holds no TLS session
//   idle_poll_wire_bytes_resumed       the same on a new connection whose handshake resumed a TLS session, when the
//                                      transport offers one (reported only if it happened)
// The relays end a connection after IDLE_CLOSE_MS without traffic, as a server that keeps no idle connection does, so
// that every poll comes on a new connection. The instrumentation is the bench's: the server is not changed for it.
import { mkdtempSync } from "node:fs";
import type { Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World } from "../tools/demo/world.js";
import { TlsTap } from "../tools/demo/tls-tap.js";
import { makeDeviceCertificate } from "../tools/server/certificates.js";

const IDLE_CLOSE_MS = 300;

/** One HTTP exchange seen in plaintext: the request's bytes and first line, the response's bytes and status. */
interface Exchange {
	request: string;
	/** the request's and the response's headers, as sent */
	heads: string[];
	requestBytes: number;
	ifNoneMatch: boolean;
	status: number;
	responseBytes: number;
}

/** Splits one direction of an HTTP/1.1 stream into messages (headers, then a Content-Length body; no chunked bodies
 * in this exchange). `bodiless` says whether a response has no body whatever its headers say (304, 204). */
class Splitter {
	#buffer = Buffer.alloc(0);
	constructor(readonly onMessage: (head: string, bytes: number) => void, readonly bodiless: (head: string) => boolean = () => false) {}
	push(chunk: Buffer): void {
		this.#buffer = Buffer.concat([this.#buffer, chunk]);
		for (;;) {
			const end = this.#buffer.indexOf("\r\n\r\n");
			if (end < 0)
				return;
			const head = this.#buffer.subarray(0, end).toString("latin1");
			const length = this.bodiless(head) ? 0 : Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
			const total = end + 4 + length;
			if (this.#buffer.length < total)
				return;
			this.onMessage(head, total);
			this.#buffer = this.#buffer.subarray(total);
		}
	}
}

function closeWhenIdle(a: Socket, b: Socket): () => void {
	let timer: NodeJS.Timeout | undefined;
	const arm = () => {
		clearTimeout(timer);
		timer = setTimeout(() => { a.destroy(); b.destroy(); }, IDLE_CLOSE_MS);
	};
	a.once("close", () => { clearTimeout(timer); b.destroy(); });
	b.once("close", () => { clearTimeout(timer); a.destroy(); });
	arm();
	return arm;
}

/** A TLS-terminating relay: the device's TLS ends here (the server's certificate), the relay asks the server with a
 * certificate for the same device, and the plaintext between them is split into exchanges. */
async function httpRelay(world: World, deviceId: string, target: number): Promise<{ url: string; exchanges: Exchange[]; server: TlsServer }> {
	const identity = makeDeviceCertificate({ caCert: world.deviceCa.cert, caKey: world.deviceCa.key, deviceId });
	const ca = readFileSync(world.certs.ca);
	const exchanges: Exchange[] = [];
	const server = createTlsServer({ cert: readFileSync(world.certs.cert), key: readFileSync(world.certs.key) }, (device: TLSSocket) => {
		const upstream = tlsConnect({ host: "127.0.0.1", port: target, servername: "localhost", ca, key: identity.key, cert: identity.cert });
		const pending: Exchange[] = [];
		const requests = new Splitter((head, bytes) => {
			const exchange = { request: head.split("\r\n")[0]!, heads: [head], requestBytes: bytes, ifNoneMatch: /\r\nif-none-match:/i.test(head), status: 0, responseBytes: 0 };
			pending.push(exchange);
			exchanges.push(exchange);
		});
		const responses = new Splitter((head, bytes) => {
			const exchange = pending.shift();
			if (exchange) {
				exchange.status = Number(head.split(" ")[1]);
				exchange.responseBytes = bytes;
				exchange.heads.push(head);
			}
		}, (head) => / (304|204) /.test(head.split("\r\n")[0]!));
		const touch = closeWhenIdle(device, upstream);
		device.on("data", (chunk: Buffer) => { touch(); requests.push(chunk); upstream.write(chunk); });
		upstream.on("data", (chunk: Buffer) => { touch(); responses.push(chunk); device.write(chunk); });
		device.on("error", () => upstream.destroy());
		upstream.on("error", () => device.destroy());
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { url: `https://localhost:${(server.address() as { port: number }).port}`, exchanges, server };
}

/** Boots the device, waits for `polls` checks that ended (none / not-modified / up-to-date), stops it. */
async function poll(world: World, flash: string, polls: number): Promise<void> {
	const board = world.boot(flash);
	try {
		for (let seen = 0; seen < polls; seen++)
			await board.waitFor((event) => event.type === "none" && board.events.filter((e) => e.type === "none").length > seen, 30000, `poll ${seen + 1}`);
	} finally {
		await board.stop();
	}
}

export async function run({ log }: { log: (line: string) => void }): Promise<Record<string, number>> {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-bench-poll-")));
	await world.start();
	const relays: { close(callback: () => void): void }[] = [];
	try {
		const target = Number(new URL(world.url).port);
		const v1 = world.firmware({ version: "1.0.0" });
		await world.publish({ version: "1.0.0", sequence: 1, securityVersion: 1, image: v1 }); // the device runs it
		const config = { pollSeconds: 1, jitter: 0.1 };

		const http = await httpRelay(world, "poll-http", target);
		relays.push(http.server);
		await poll(world, world.device("poll-http", v1, { ...config, server: http.url }), 3);
		const manifests = http.exchanges.filter((exchange) => exchange.request.includes("/manifest"));
		const full = manifests.find((exchange) => !exchange.ifNoneMatch && exchange.status === 200);
		const idle = manifests.find((exchange) => exchange.ifNoneMatch && exchange.status === 304);
		if (!full || !idle)
			throw new Error(`poll bench: expected a 200 then a 304 for the manifest, saw ${JSON.stringify(manifests)}`);
		log(`unconditional poll: ${full.requestBytes} + ${full.responseBytes} bytes; conditional: ${idle.requestBytes} + ${idle.responseBytes} bytes:`);
		for (const head of idle.heads)
			log(`  ${head.replace(/\r\n/g, "\n  ")}`);

		// the tap reads each connection's hellos: a ServerHello that echoes the session the device offered is a resumption
		const wire = new TlsTap({ host: "127.0.0.1", port: target }, { idleCloseMs: IDLE_CLOSE_MS });
		const wireUrl = await wire.listen();
		relays.push({ close: (callback) => { void wire.close().then(callback); } });
		const flash = world.device("poll-wire", v1, { ...config, server: wireUrl });
		await poll(world, flash, 3); // the first poll judges the manifest; the next ones are 304s, resumed if they can be
		const first = wire.each.length;
		await poll(world, flash, 1); // a new process: no TLS session to resume
		const cold = wire.each.slice(first).find((connection) => !connection.resumed);
		const warm = wire.each.slice(1, first).find((connection) => connection.resumed);
		if (!cold)
			throw new Error(`poll bench: no new connection with a full handshake after the restart: ${JSON.stringify(wire.each.slice(first))}`);
		log(`wire: full handshake ${cold.up} up + ${cold.down} down${warm ? `; resumed ${warm.up} up + ${warm.down} down` : "; no resumed handshake"}`);
		return {
			idle_poll_http_bytes: idle.requestBytes + idle.responseBytes,
			idle_poll_http_bytes_unconditional: full.requestBytes + full.responseBytes,
			idle_poll_wire_bytes: cold.up + cold.down,
			...(warm ? { idle_poll_wire_bytes_resumed: warm.up + warm.down } : {}),
		};
	} finally {
		for (const relay of relays)
			await new Promise<void>((resolve) => relay.close(() => resolve()));
		await world.stop();
	}
}
