// Bounds on every transfer, enforced here for every transport alike: a total deadline, and a minimum rate over
// each of the consecutive windows of a transfer, so that a server that drips bytes (2 bytes a second hold a stall
// timeout open for ever) cannot hold a download, a check or a report. The transports' own timeout stays the bound
// on a silent connection.
import type { Clock } from "./ports.js";

export interface TransferLimits {
	/** the whole request, from the call to its end */
	deadlineMs: number;
	/** at least this many bytes a second ... */
	minBytesPerSecond: number;
	/** ... over each window of this length (0 bytes a second: no rate bound) */
	windowMs: number;
}

export interface TransferWatch {
	/** count received bytes */
	received(count: number): void;
	/** the transfer ended: no more checks */
	stop(): void;
}

/** Calls fail once, with the reason, when the transfer passes its deadline or falls below its rate over a window.
 * One timer at a time, for whichever comes first, the window's end or the deadline; and one object per request, whose
 * methods are its class's: a request costs that object, its one timer callback and the timer, not a closure per bound
 * and per method (each is garbage on a device's heap: README, "Memory"). */
export function watchTransfer(clock: Clock, limits: TransferLimits, fail: (why: string) => void): TransferWatch {
	return new Watch(clock, limits, fail);
}

class Watch implements TransferWatch {
	readonly #clock: Clock;
	readonly #limits: TransferLimits;
	readonly #fail: (why: string) => void;
	readonly #need: number;
	readonly #deadline: number;
	#windowEnd: number;
	#bytes = 0;
	#stopped = false;
	#cancel: (() => void) | undefined;
	readonly #tick = () => this.#check();

	constructor(clock: Clock, limits: TransferLimits, fail: (why: string) => void) {
		this.#clock = clock;
		this.#limits = limits;
		this.#fail = fail;
		this.#need = (limits.minBytesPerSecond * limits.windowMs) / 1000;
		const now = clock.now();
		this.#deadline = now + limits.deadlineMs;
		this.#windowEnd = this.#need > 0 ? now + limits.windowMs : Infinity;
		this.#arm(now);
	}

	received(count: number): void {
		this.#bytes += count;
	}

	stop(): void {
		this.#stopped = true;
		const cancel = this.#cancel;
		this.#cancel = undefined;
		cancel?.();
	}

	#failWith(why: string): void {
		this.stop();
		this.#fail(why);
	}

	#check(): void {
		this.#cancel = undefined;
		if (this.#stopped)
			return;
		const now = this.#clock.now(), limits = this.#limits;
		if (now >= this.#deadline)
			return this.#failWith(`no end within the ${limits.deadlineMs} ms deadline`);
		if (now >= this.#windowEnd) {
			if (this.#bytes < this.#need)
				return this.#failWith(`${this.#bytes} bytes in ${limits.windowMs} ms, below ${limits.minBytesPerSecond} bytes a second`);
			this.#bytes = 0;
			this.#windowEnd = now + limits.windowMs;
		}
		this.#arm(now);
	}

	#arm(now: number): void {
		this.#cancel = this.#clock.after(Math.max(0, Math.min(this.#deadline, this.#windowEnd) - now), this.#tick);
	}
}
