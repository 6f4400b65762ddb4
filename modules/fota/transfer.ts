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

/** Calls fail once, with the reason, when the transfer passes its deadline or falls below its rate over a window. */
export function watchTransfer(clock: Clock, limits: TransferLimits, fail: (why: string) => void): TransferWatch {
	let stopped = false, bytes = 0;
	const cancels: (() => void)[] = [];
	const stop = () => {
		stopped = true;
		for (const cancel of cancels.splice(0))
			cancel();
	};
	const failWith = (why: string) => {
		if (stopped)
			return;
		stop();
		fail(why);
	};
	cancels.push(clock.after(limits.deadlineMs, () => failWith(`no end within the ${limits.deadlineMs} ms deadline`)));
	const need = (limits.minBytesPerSecond * limits.windowMs) / 1000;
	const window = () => {
		cancels.push(clock.after(limits.windowMs, () => {
			if (stopped)
				return;
			if (bytes < need)
				return failWith(`${bytes} bytes in ${limits.windowMs} ms, below ${limits.minBytesPerSecond} bytes a second`);
			bytes = 0;
			window();
		}));
	};
	if (need > 0)
		window();
	return {
		received(count) {
			bytes += count;
		},
		stop,
	};
}
