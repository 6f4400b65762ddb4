// The sim host itself: modules, natives, the event loop and the globals firmware expects.
import Timer from "timer";
import TextEncoder from "text/encoder";
import TextDecoder from "text/decoder";
import Preference from "preference";
import { memory, collect } from "sim/memory";
import { test } from "./lib/harness.js";
import { event } from "sim/events";
import { twice } from "./lib/second-module.js";

test("imports a second module by a relative specifier", (t) => {
	t.is(twice(21), 42);
});

test("a Timer resolves an awaited promise after its interval", async (t) => {
	const start = Date.now();
	const value = await new Promise<string>((resolve) => Timer.set(() => resolve("fired"), 30));
	t.is(value, "fired");
	t.true(Date.now() - start >= 29, "fired too early");
});

test("Timer.repeat fires until cleared, and the callback gets the timer", async (t) => {
	let count = 0;
	const seen = await new Promise<unknown>((resolve) => {
		const timer = Timer.repeat((self) => {
			if (++count === 3) {
				Timer.clear(timer);
				resolve(self === timer);
			}
		}, 5);
	});
	t.is(count, 3);
	t.true(seen);
});

test("Timer.schedule reschedules a one-shot timer, Timer.clear cancels it", async (t) => {
	let fired = 0;
	const timer = Timer.set(() => { fired++; }, 1000);
	Timer.schedule(timer, 5);
	await new Promise<void>((resolve) => Timer.set(() => resolve(), 40));
	t.is(fired, 1);
	const cancelled = Timer.set(() => { fired++; }, 5);
	Timer.clear(cancelled);
	Timer.clear(undefined);
	await new Promise<void>((resolve) => Timer.set(() => resolve(), 20));
	t.is(fired, 1);
});

test("Timer rejects bad arguments with a clear error", (t) => {
	t.throws(() => Timer.set(42 as never, 1), { instanceOf: TypeError, message: /callback is not a function/ });
	t.throws(() => Timer.set(() => {}, -1), { instanceOf: RangeError });
	t.throws(() => Timer.clear({} as never), { instanceOf: TypeError, message: /not a timer/ });
});

test("timers fire in due order", async (t) => {
	const order: number[] = [];
	await new Promise<void>((resolve) => {
		Timer.set(() => order.push(3), 30);
		Timer.set(() => order.push(1), 5);
		Timer.set(() => { order.push(2); }, 15);
		Timer.set(() => resolve(), 45);
	});
	t.deepEqual(order, [1, 2, 3]);
});

test("TextEncoder and TextDecoder come from Moddable's C modules", (t) => {
	const bytes = new TextEncoder().encode("héllo ✓");
	t.deepEqual(Array.from(bytes.slice(0, 3)), [0x68, 0xc3, 0xa9]);
	t.is(new TextDecoder().decode(bytes), "héllo ✓");
});

test("native() of an unknown name throws a clear ReferenceError", (t) => {
	t.throws(() => native("xs_no_such_native"), { instanceOf: ReferenceError, message: /xs_no_such_native.*no such native/ });
});

test("Native() of an unknown destructor throws too", (t) => {
	t.throws(() => Native("xs_no_such_destructor"), { instanceOf: ReferenceError, message: /xs_no_such_destructor/ });
});

test("native() returns the same function for the same name", (t) => {
	t.is(native("xs_timer_set"), native("xs_timer_set"));
});

test("Preference stands in for Moddable's module", (t) => {
	Preference.set("xsfota", "count", 3);
	Preference.set("xsfota", "name", "dev-1");
	t.is(Preference.get("xsfota", "count"), 3);
	t.deepEqual(Preference.keys("xsfota").sort(), ["count", "name"]);
	Preference.delete("xsfota", "count");
	t.is(Preference.get("xsfota", "count"), undefined);
	t.throws(() => Preference.set("a-domain-name-too-long", "k", 1), { instanceOf: RangeError });
});

test("the host reports XS memory, and the peak can be reset", (t) => {
	collect();
	const before = memory(true);
	const garbage = new Array(10000).fill(0).map((_, i) => ({ i }));
	const during = memory();
	t.true(during.peak > before.current, "allocating did not raise the peak");
	t.true(garbage.length === 10000);
	t.true(before.peakChunks >= 0 && before.slots > 0);
});

/** The chunk bytes `fn` allocates, garbage included (XS's peak), on its second run. */
function chunksAllocated(fn: () => unknown): number {
	fn();
	collect();
	const before = memory(true);
	fn();
	return memory().peakChunks - before.chunks;
}

test("module code runs from outside the heap, as from a device's flash: a closure made or a string literal evaluated copies nothing into the heap", (t) => {
	// 100 closures, each with a body of about 1 KB of code, and 100 evaluations of a 200-character literal: parsed
	// code run as it comes copied the body into a chunk at each closure (~100 KB) and the literal at each evaluation
	// (~20 KB); code as Moddable's linker leaves it points at both where they lie
	const made: Array<() => number> = [];
	const closures = chunksAllocated(() => {
		made.length = 0;
		for (let i = 0; i < 100; i++)
			made.push(() => {
				let x = i;
				x = (x * 31 + 7) % 1013; x = (x * 31 + 7) % 1013; x = (x * 31 + 7) % 1013; x = (x * 31 + 7) % 1013;
				x = (x * 31 + 7) % 1013; x = (x * 31 + 7) % 1013; x = (x * 31 + 7) % 1013; x = (x * 31 + 7) % 1013;
				x = (x * 37 + 5) % 1019; x = (x * 37 + 5) % 1019; x = (x * 37 + 5) % 1019; x = (x * 37 + 5) % 1019;
				x = (x * 37 + 5) % 1019; x = (x * 37 + 5) % 1019; x = (x * 37 + 5) % 1019; x = (x * 37 + 5) % 1019;
				x = (x * 41 + 3) % 1021; x = (x * 41 + 3) % 1021; x = (x * 41 + 3) % 1021; x = (x * 41 + 3) % 1021;
				x = (x * 41 + 3) % 1021; x = (x * 41 + 3) % 1021; x = (x * 41 + 3) % 1021; x = (x * 41 + 3) % 1021;
				return x;
			});
	});
	t.is(made.length, 100);
	t.is(made[5]!(), made[5]!()); // the closures run
	let length = 0;
	const literals = chunksAllocated(() => {
		length = 0;
		for (let i = 0; i < 100; i++)
			length += "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ".length;
	});
	t.is(length, 100 * 200);
	t.true(closures < 4000, `100 closures: ${closures} chunk bytes`);
	t.true(literals < 1000, `100 literal evaluations: ${literals} chunk bytes`);
});

// Figure in brackets: sim-events.ts before this test, measured by it: each event made an array of its entries (an
// array per entry), a copy of its fields without the reserved keys, then the line.
test("an event costs its line and little else: no entries arrays and no copy of its fields", (t) => {
	const fields = { version: "2.0.0", sequence: 2, securityVersion: 1, size: 1048576 };
	event("manifest", fields);
	collect();
	const before = memory(true);
	event("manifest", fields);
	const cost = memory().peak - before.current;
	t.true(cost <= 1200, `an event of four fields: ${cost} bytes (was 3,016)`);
});
