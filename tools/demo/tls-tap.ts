// A TCP relay in front of the update server that counts TLS handshakes and bytes as the server's socket sees them,
// for the mcsim demo, the mcsim heap bench and the idle-poll bench: the device is given the relay's URL, every connection is passed through byte for byte
// (nothing is decrypted; the certificate still names localhost), and each connection's first records are read:
// a ClientHello is a handshake, and a ServerHello that echoes the ClientHello's non-empty session ID is a resumed
// (abbreviated) one. Why here and not in the server: the figure is about the wire, and the server's code stays as it is.
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TlsCounts {
	/** TCP connections the device opened */
	connections: number;
	/** ClientHellos seen (one per TLS handshake) */
	handshakes: number;
	/** handshakes whose ServerHello resumed the session the ClientHello offered */
	resumed: number;
	/** ClientHellos that offered a session ID to resume (accepted or not) */
	offered: number;
}

/** The session ID of a ClientHello (type 1) or ServerHello (type 2) at the start of a TLS byte stream: undefined
 * until enough bytes came, null when the stream does not start with that message. */
function helloSessionId(bytes: Buffer, type: number): Buffer | null | undefined {
	// record header (5): 0x16 handshake, version, length; handshake header (4): type, length; version (2), random (32)
	if (bytes.length < 5 + 4 + 2 + 32 + 1)
		return undefined;
	if (bytes[0] !== 0x16 || bytes[5] !== type)
		return null;
	const length = bytes[43]!;
	if (bytes.length < 44 + length)
		return undefined;
	return bytes.subarray(44, 44 + length);
}

/** One connection through the tap: its bytes each way (every TLS record) and whether its handshake resumed. */
export interface TappedConnection {
	/** bytes from the device */
	up: number;
	/** bytes from the server */
	down: number;
	resumed: boolean;
}

export class TlsTap {
	readonly counts: TlsCounts = { connections: 0, handshakes: 0, resumed: 0, offered: 0 };
	/** every connection, in the order the device opened them */
	readonly each: TappedConnection[] = [];
	readonly #server: Server;
	readonly #sockets = new Set<Socket>();
	readonly #idleCloseMs: number | undefined;
	url = "";

	/** idleCloseMs: end a connection after that long without a byte either way, as a server that keeps no idle
	 * connection does (the next request then comes on a new connection); by default connections stay as they are. */
	constructor(readonly target: { host: string; port: number }, options: { idleCloseMs?: number } = {}) {
		this.#idleCloseMs = options.idleCloseMs;
		this.#server = createServer((device) => this.#relay(device));
	}

	/** Listens on loopback; url is then https://localhost:<port> (the server's certificate names localhost). */
	async listen(): Promise<string> {
		await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
		this.url = `https://localhost:${(this.#server.address() as AddressInfo).port}`;
		return this.url;
	}

	close(): Promise<void> {
		for (const socket of this.#sockets)
			socket.destroy();
		return new Promise((resolve) => this.#server.close(() => resolve()));
	}

	#relay(device: Socket): void {
		this.counts.connections++;
		const tapped: TappedConnection = { up: 0, down: 0, resumed: false };
		this.each.push(tapped);
		const server = connect(this.target.port, this.target.host);
		let idle: NodeJS.Timeout | undefined;
		const touch = () => {
			if (this.#idleCloseMs === undefined)
				return;
			clearTimeout(idle);
			idle = setTimeout(() => end(), this.#idleCloseMs);
		};
		touch();
		this.#sockets.add(device);
		this.#sockets.add(server);
		let fromDevice: Buffer | undefined = Buffer.alloc(0);
		let fromServer: Buffer | undefined = Buffer.alloc(0);
		let offered: Buffer | undefined;
		device.on("data", (bytes: Buffer) => {
			tapped.up += bytes.length;
			touch();
			if (fromDevice !== undefined) {
				fromDevice = Buffer.concat([fromDevice, bytes]);
				const id = helloSessionId(fromDevice, 1);
				if (id !== undefined) {
					fromDevice = undefined;
					if (id !== null) {
						this.counts.handshakes++;
						if (id.length > 0) {
							this.counts.offered++;
							offered = Buffer.from(id);
						}
					}
				}
			}
			server.write(bytes);
		});
		server.on("data", (bytes: Buffer) => {
			tapped.down += bytes.length;
			touch();
			if (fromServer !== undefined) {
				fromServer = Buffer.concat([fromServer, bytes]);
				const id = helloSessionId(fromServer, 2);
				if (id !== undefined) {
					fromServer = undefined;
					if (id && offered && id.equals(offered)) {
						this.counts.resumed++;
						tapped.resumed = true;
					}
				}
			}
			device.write(bytes);
		});
		const end = () => {
			clearTimeout(idle);
			device.destroy();
			server.destroy();
			this.#sockets.delete(device);
			this.#sockets.delete(server);
		};
		device.on("close", end);
		server.on("close", end);
		device.on("error", end);
		server.on("error", end);
	}
}
