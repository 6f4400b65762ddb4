// The bounds on every transfer (modules/fota/transfer.ts): a total deadline and a minimum rate over each window,
// on a manual clock; and one timer pending at a time, since every timer is garbage on a device's heap.
import test from "ava";
import { watchTransfer } from "../../modules/fota/transfer.js";
import type { Clock } from "../../modules/fota/ports.js";

class ManualClock implements Clock {
	t = 0;
	timers: { at: number; callback: () => void }[] = [];
	now() { return this.t; }
	wall() { return undefined; }
	random() { return 0.5; }
	after(ms: number, callback: () => void) {
		const timer = { at: this.t + ms, callback };
		this.timers.push(timer);
		return () => { this.timers = this.timers.filter((other) => other !== timer); };
	}
	/** Moves time on by ms, firing what falls due, in time order. */
	advance(ms: number) {
		const end = this.t + ms;
		for (;;) {
			const due = this.timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at)[0];
			if (!due)
				break;
			this.timers = this.timers.filter((timer) => timer !== due);
			this.t = due.at;
			due.callback();
		}
		this.t = end;
	}
}

const LIMITS = { deadlineMs: 10_000, minBytesPerSecond: 100, windowMs: 1000 };

test("a transfer that keeps its rate runs until its deadline, then fails once, with one timer pending at a time", (t) => {
	const clock = new ManualClock();
	const failures: string[] = [];
	const watch = watchTransfer(clock, LIMITS, (why) => failures.push(why));
	for (let s = 0; s < 12; s++) {
		t.true(clock.timers.length <= 1, `${clock.timers.length} timers pending at ${clock.t} ms`);
		watch.received(150);
		clock.advance(1000);
	}
	t.deepEqual(failures, ["no end within the 10000 ms deadline"]);
	t.is(clock.timers.length, 0);
});

test("a window below the rate fails the transfer at that window's end", (t) => {
	const clock = new ManualClock();
	const failures: string[] = [];
	const watch = watchTransfer(clock, LIMITS, (why) => failures.push(why));
	watch.received(100);
	clock.advance(1000); // 100 bytes in the first second: enough
	t.deepEqual(failures, []);
	watch.received(99);
	clock.advance(999);
	t.deepEqual(failures, []);
	clock.advance(1);
	t.deepEqual(failures, ["99 bytes in 1000 ms, below 100 bytes a second"]);
	clock.advance(20_000);
	t.is(failures.length, 1);
});

test("stop ends every check: no failure after it, no timer left", (t) => {
	const clock = new ManualClock();
	const failures: string[] = [];
	const watch = watchTransfer(clock, LIMITS, (why) => failures.push(why));
	clock.advance(500);
	watch.stop();
	t.is(clock.timers.length, 0);
	clock.advance(60_000);
	t.deepEqual(failures, []);
});

test("without a rate bound only the deadline is watched", (t) => {
	const clock = new ManualClock();
	const failures: string[] = [];
	watchTransfer(clock, { deadlineMs: 5000, minBytesPerSecond: 0, windowMs: 1000 }, (why) => failures.push(why));
	clock.advance(4999);
	t.deepEqual(failures, []);
	clock.advance(1);
	t.deepEqual(failures, ["no end within the 5000 ms deadline"]);
});
