// The small ports of a device in Node: a store in a Map (with the ESP32's Preference rules), a real-time clock
// whose random numbers may be seeded, a watchdog that only counts, and the verifier (node:crypto's Ed25519 behind
// libsodium's strict checks, as the CLI checks). For the fleet simulator's virtual devices and the client's tests.
import { checkNvsName, checkNvsValue } from "../../modules/fota/nvs.js";
import { nodeVerify } from "../cli/verifier.js";
import type { Clock, Store, StoreValue, Verifier, Watchdog } from "../../modules/fota/ports.js";

export class MapStore implements Store {
	values = new Map<string, StoreValue>();
	get(key: string) { return this.values.get(key); }
	/** Refuses what the ESP32's Preference refuses (modules/fota/nvs.ts). */
	set(key: string, value: StoreValue) {
		checkNvsName("key", key);
		checkNvsValue(key, value);
		this.values.set(key, value);
	}
	delete(key: string) { this.values.delete(key); }
}

/** Real time: performance.now() and Date.now(), and timers that stop() cancels, all at once, for good (a device
 * switched off runs nothing more). */
export class RealClock implements Clock {
	readonly #timers = new Set<ReturnType<typeof setTimeout>>();
	#stopped = false;
	constructor(readonly random: () => number = Math.random) {}
	now() { return performance.now(); }
	wall() { return Date.now(); }
	after(ms: number, callback: () => void) {
		if (this.#stopped)
			return () => {};
		const timer = setTimeout(() => {
			this.#timers.delete(timer);
			callback();
		}, Math.max(0, ms));
		this.#timers.add(timer);
		return () => {
			clearTimeout(timer);
			this.#timers.delete(timer);
		};
	}
	stop() {
		this.#stopped = true;
		for (const timer of this.#timers)
			clearTimeout(timer);
		this.#timers.clear();
	}
}

/** A watchdog that never fires: a virtual device's trial runs no code that could hang the event loop. */
export class IdleWatchdog implements Watchdog {
	arms = 0;
	arm() { this.arms++; }
	feed() {}
	disarm() {}
}

export const strictVerifier: Verifier = { verify: nodeVerify };

/** Numbers in [0, 1) from a 32-bit seed (mulberry32): the same seed, the same sequence. */
export function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let x = state;
		x = Math.imul(x ^ (x >>> 15), x | 1);
		x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
		return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
	};
}
