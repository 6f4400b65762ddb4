// A link that a test can cut: a TCP proxy on loopback to a target port. cut() ends every connection through it and
// refuses new ones (as an unplugged uplink does: the peer sees a reset), restore() lets them through again. It
// passes bytes as they are and counts them; the fault is the test's, never the server's or the gateway's.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/** Ends a socket as an unplugged cable does, with a reset; one whose graceful end has begun is only destroyed: a reset
 * racing a pending shutdown leaves the TCP handle referenced, and Node then spins at exit in its handle cleanup
 * (seen: the ava worker of e2e/gateway-kill at 100% CPU after its test passed; libp2p/js-libp2p#3597 has the same). */
function unplug(socket: Socket): void {
	if (socket.writableEnded || socket.destroyed)
		socket.destroy();
	else
		socket.resetAndDestroy();
}

export class Link {
	readonly #server: Server;
	readonly #pairs = new Set<[Socket, Socket]>();
	#cut = false;
	/** bytes carried from the target to the clients */
	down = 0;
	url = "";

	constructor(readonly targetPort: number) {
		this.#server = createServer((client) => {
			if (this.#cut)
				return void unplug(client);
			const target = createConnection({ host: "127.0.0.1", port: targetPort });
			const pair: [Socket, Socket] = [client, target];
			this.#pairs.add(pair);
			const end = () => {
				this.#pairs.delete(pair);
				client.destroy();
				target.destroy();
			};
			client.on("error", end).on("close", end);
			target.on("error", end).on("close", end);
			target.on("data", (chunk: Buffer) => { this.down += chunk.length; });
			client.pipe(target);
			target.pipe(client);
		});
	}

	/** Listens; the URL is https://localhost:<port> (the target's certificate names localhost). */
	listen(): Promise<string> {
		return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", () => {
			this.url = `https://localhost:${(this.#server.address() as AddressInfo).port}`;
			resolve(this.url);
		}));
	}

	cut(): void {
		this.#cut = true;
		for (const [client, target] of this.#pairs) {
			unplug(client);
			target.destroy();
		}
		this.#pairs.clear();
	}

	restore(): void {
		this.#cut = false;
	}

	close(): Promise<void> {
		this.cut();
		return new Promise((resolve) => this.#server.close(() => resolve()));
	}
}
