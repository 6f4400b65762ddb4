// The rest of the ports for Node tests: store (the fleet's, tools/fleet/node-ports.ts), clock, verifier, watchdog.
import { createPublicKey, verify } from "node:crypto";
import type { Clock, Verifier, Watchdog } from "../../../modules/fota/ports.js";
import { MapStore } from "../../../tools/fleet/node-ports.js";

export { MapStore };

/** Real timers run 1/scale times faster than the times the client asks for. The wall clock stands still. */
export class FastClock implements Clock {
	readonly #start = performance.now();
	wallMs: number | undefined;
	constructor(readonly scale = 0.01, wallMs: number | undefined = Date.UTC(2026, 10, 24, 12, 0)) {
		this.wallMs = wallMs;
	}
	now() { return (performance.now() - this.#start) / this.scale; }
	wall() { return this.wallMs; }
	after(ms: number, callback: () => void) {
		const timer = setTimeout(callback, ms * this.scale);
		return () => clearTimeout(timer);
	}
	random() { return Math.random(); }
}

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export const nodeVerifier: Verifier = {
	verify(signature, message, publicKey) {
		const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
		return verify(null, message, key, signature);
	},
};

export class FakeWatchdog implements Watchdog {
	log: string[] = [];
	arm(ms: number) { this.log.push(`arm ${ms}`); }
	feed() { this.log.push("feed"); }
	disarm() { this.log.push("disarm"); }
}
