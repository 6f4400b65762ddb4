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
 * One timer at a time, for whichever comes first, the window's end or the deadline: a request costs one timer and a
 * few closures, not one timer per bound (each is garbage on a device's heap). */
export function watchTransfer(clock: Clock, limits: TransferLimits, fail: (why: string) => void): TransferWatch {
	let stopped = false, bytes = 0;
	let cancel: (() => void) | undefined;
	const need = (limits.minBytesPerSecond * limits.windowMs) / 1000;
	const deadline = clock.now() + limits.deadlineMs;
	let windowEnd = need > 0 ? clock.now() + limits.windowMs : Infinity;
	const stop = () => {
		stopped = true;
		cancel?.();
		cancel = undefined;
	};
	const failWith = (why: string) => {
		stop();
		fail(why);
	};
	const tick = () => {
		cancel = undefined;
		if (stopped)
			return;
		const now = clock.now();
		if (now >= deadline)
			return failWith(`no end within the ${limits.deadlineMs} ms deadline`);
		if (now >= windowEnd) {
			if (bytes < need)
				return failWith(`${bytes} bytes in ${limits.windowMs} ms, below ${limits.minBytesPerSecond} bytes a second`);
			bytes = 0;
			windowEnd = now + limits.windowMs;
		}
		arm(now);
	};
	const arm = (now: number) => {
		cancel = clock.after(Math.max(0, Math.min(deadline, windowEnd) - now), tick);
	};
	arm(clock.now());
	return {
		received(count) {
			bytes += count;
		},
		stop,
	};
}
