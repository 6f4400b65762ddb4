// The trial of a pending image: the app's checks, under a deadline and the watchdog. A check that throws
// or rejects fails the trial; one that never settles fails it at the deadline; one that hangs the event
// loop is caught by the watchdog, whose reset the bootloader turns into a rollback.
import type { Clock, Watchdog } from "./ports.js";

export interface SelfTestCheck {
	name: string;
	run(): void | Promise<void>;
}

export type TrialResult = { ok: true; passed: string[] } | { ok: false; failed: string; reason: string };

export interface TrialOptions {
	clock: Clock;
	watchdog: Watchdog;
	deadlineMs: number;
	/** the watchdog timeout: how long the event loop may stay blocked */
	watchdogMs: number;
	onCheck?: (name: string, ok: boolean, detail?: string) => void;
}

function withDeadline<T>(clock: Clock, promise: Promise<T>, ms: number, name: string): Promise<T> {
	return new Promise((resolve, reject) => {
		const cancel = clock.after(ms, () => reject(new Error(`${name}: no answer within ${Math.round(ms)} ms`)));
		promise.then((value) => { cancel(); resolve(value); }, (error) => { cancel(); reject(error); });
	});
}

export async function runTrial(checks: readonly SelfTestCheck[], options: TrialOptions): Promise<TrialResult> {
	const { clock, watchdog } = options;
	const end = clock.now() + options.deadlineMs;
	const passed: string[] = [];
	watchdog.arm(options.watchdogMs);
	// Feeding from a timer proves the event loop still turns; a blocked loop starves it and the watchdog fires.
	let feeding = true;
	const feed = () => {
		if (!feeding)
			return;
		watchdog.feed();
		clock.after(options.watchdogMs / 3, feed);
	};
	feed();
	try {
		for (const check of checks) {
			const left = end - clock.now();
			try {
				if (left <= 0)
					throw new Error("the self-test deadline passed");
				await withDeadline(clock, Promise.resolve().then(() => check.run()), left, check.name);
			} catch (error) {
				const reason = error instanceof Error ? error.message : String(error);
				options.onCheck?.(check.name, false, reason);
				return { ok: false, failed: check.name, reason };
			}
			options.onCheck?.(check.name, true);
			passed.push(check.name);
		}
		return { ok: true, passed };
	} finally {
		feeding = false;
		watchdog.disarm();
	}
}
