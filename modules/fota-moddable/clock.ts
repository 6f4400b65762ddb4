// The clock port over Moddable's Timer and Date. A wall time before 2024 means the clock was never set.
import Timer from "timer";
import type { Clock } from "fota/ports";

const EARLIEST_BELIEVABLE = Date.UTC(2024, 0, 1);

export class TimerClock implements Clock {
	now(): number {
		return Date.now();
	}
	wall(): number | undefined {
		const now = Date.now();
		return now >= EARLIEST_BELIEVABLE ? now : undefined;
	}
	after(ms: number, callback: () => void): () => void {
		let done = false; // Moddable frees a one-shot timer once it fired: it must not be cleared after that
		const timer = Timer.set(() => {
			done = true;
			callback();
		}, Math.max(0, ms));
		return () => {
			if (!done) {
				done = true;
				Timer.clear(timer);
			}
		};
	}
	random(): number {
		return Math.random();
	}
}
