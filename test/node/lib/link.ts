// A link that a test can cut: a TCP proxy on loopback to a target port. cut() ends every connection through it and
// refuses new ones (as an unplugged uplink does: the peer sees a reset), restore() lets them through again. It
// passes bytes as they are and counts them; the fault is the test's, never the server's or the gateway's.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

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
				return void client.resetAndDestroy();
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
			client.resetAndDestroy();
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
