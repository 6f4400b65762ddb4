// tools/server/admission.ts: at most `limit` downloads at once, the rest told when to come back, and the first
// refused admitted first, so that no device waits for ever behind newcomers.
import test from "ava";
import { seeded } from "./lib/seeded.js";
import { DownloadGate } from "../../tools/server/admission.js";

test("the limit is never exceeded; a refused device is told to come back, with jitter", (t) => {
	let now = 0;
	const gate = new DownloadGate({ limit: 2, now: () => now, random: seeded(1) });
	const a = gate.enter("a"), b = gate.enter("b");
	t.true(a.admitted && b.admitted);
	const waits = new Set<number>();
	for (let i = 0; i < 20; i++) {
		const refused = gate.enter(`late-${i}`);
		t.false(refused.admitted);
		if (!refused.admitted) {
			t.true(refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 90);
			waits.add(refused.retryAfterSeconds);
		}
	}
	t.true(waits.size > 3, "every refused device was told the same time");
	t.is(gate.active, 2);
	if (a.admitted) {
		a.release();
		a.release(); // a second release changes nothing
	}
	t.is(gate.active, 1);
	t.is(gate.peak, 2);
	t.throws(() => new DownloadGate({ limit: 0 }), { instanceOf: RangeError });
});

test("a freed slot goes to the device refused first when its turn comes, not to a newcomer", (t) => {
	let now = 0;
	const gate = new DownloadGate({ limit: 1, now: () => now, random: () => 0 });
	const first = gate.enter("first");
	now = 10;
	const refused = gate.enter("waited");
	t.false(refused.admitted);
	now = 20;
	if (first.admitted)
		first.release();
	now = 10 + (refused.admitted ? 0 : refused.retryAfterSeconds) * 1000; // its turn
	t.false(gate.enter("newcomer").admitted, "a newcomer took the slot of a device whose turn it was");
	const waited = gate.enter("waited");
	t.true(waited.admitted);
});

test("a freed slot is not held for a waiter whose turn is later: a device that asks now takes it", (t) => {
	let now = 0;
	const gate = new DownloadGate({ limit: 1, now: () => now, random: () => 0.5 });
	for (let round = 0; round < 40; round++) { // downloads of 10 s
		const admitted = gate.enter(`warm-${round}`);
		now += 10_000;
		if (admitted.admitted)
			admitted.release();
	}
	const busy = gate.enter("busy");
	const later = gate.enter("later");
	t.false(later.admitted);
	t.true(!later.admitted && later.retryAfterSeconds >= 9, "told to come back in about one download");
	now += 2000;
	if (busy.admitted)
		busy.release(); // it ended early: the slot is free 8 s before the waiter's turn
	t.true(gate.enter("now").admitted, "the slot stayed idle for a waiter not due yet");
});

test("under constant contention every device is admitted, in about the order it was first refused", (t) => {
	let now = 0;
	const random = seeded(7);
	const gate = new DownloadGate({ limit: 3, now: () => now, random });
	const devices = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
	const nextTry = new Map(devices.map((id, i) => [id, i * 50])); // they arrive over 2 s
	const firstRefused = new Map<string, number>();
	const admittedAt = new Map<string, number>();
	const running: { end: number; release: () => void }[] = [];
	for (now = 0; admittedAt.size < devices.length && now < 3_600_000; now += 100) {
		for (const done of running.filter((r) => r.end <= now)) {
			done.release();
			running.splice(running.indexOf(done), 1);
		}
		for (const id of devices) {
			if (admittedAt.has(id) || nextTry.get(id)! > now)
				continue;
			const answer = gate.enter(id);
			if (answer.admitted) {
				admittedAt.set(id, now);
				running.push({ end: now + 5000, release: answer.release }); // each download takes 5 s
			}
			else {
				if (!firstRefused.has(id))
					firstRefused.set(id, now);
				nextTry.set(id, now + answer.retryAfterSeconds * 1000);
			}
			t.true(gate.active <= 3);
		}
	}
	t.is(admittedAt.size, devices.length, "a device was starved");
	t.is(gate.peak, 3);
	// the order of admission follows the order of first refusal, give or take the jitter of one round of slots
	const refusedOrder = [...firstRefused.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id);
	const admittedOrder = [...admittedAt.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id).filter((id) => firstRefused.has(id));
	const displacement = Math.max(...refusedOrder.map((id, i) => Math.abs(admittedOrder.indexOf(id) - i)));
	t.true(displacement <= 12, `a device was admitted ${displacement} places away from its turn`);
	// and no slot stayed idle long while devices waited: all 40 downloads of 5 s on 3 slots took at most 1.2 times the
	// ideal (the devices are told when their turn comes, from the downloads' mean time)
	const last = Math.max(...admittedAt.values()) + 5000;
	t.true(last <= 1.2 * (40 * 5000) / 3, `the downloads took ${last} ms, ideal ${Math.round(40 * 5000 / 3)}`);
});

test("a waiter late for its turn keeps no slot idle, and keeps its place when it comes back", (t) => {
	let now = 0;
	const gate = new DownloadGate({ limit: 1, now: () => now, random: () => 0.5 });
	const first = gate.enter("first");
	const refused = gate.enter("sleepy");
	t.false(refused.admitted);
	const due = refused.admitted ? 0 : refused.retryAfterSeconds * 1000;
	if (first.admitted)
		first.release();
	now = due;
	t.false(gate.enter("newcomer").admitted, "on time, the waiter's slot is kept");
	now = due + 2001;
	const newcomer = gate.enter("newcomer");
	t.true(newcomer.admitted, "the late waiter held the slot");
	if (newcomer.admitted)
		newcomer.release();
	now += 10;
	t.true(gate.enter("sleepy").admitted, "the late waiter lost its place");
});

test("the Retry-After follows the mean time of a download: each waiter back a little before its turn", (t) => {
	let now = 0;
	const gate = new DownloadGate({ limit: 10, now: () => now, random: () => 0.5 });
	for (let round = 0; round < 30; round++) { // downloads of 8 s
		const admitted = gate.enter(`warm-${round}`);
		now += 8000;
		if (admitted.admitted)
			admitted.release();
	}
	const running = Array.from({ length: 10 }, (_, i) => gate.enter(`busy-${i}`));
	t.true(running.every((answer) => answer.admitted));
	const waits = Array.from({ length: 30 }, (_, i) => gate.enter(`wait-${i}`)).map((answer) => answer.admitted ? -1 : answer.retryAfterSeconds);
	t.true(waits[0]! >= 1 && waits[0]! <= 2, `the first waiter: ${waits[0]} s`);
	// told a little early (80% to 95% of the turn): a device is there when the slot frees
	t.true(waits[9]! >= 6 && waits[9]! <= 8, `the tenth waiter (a round of slots, 8 s): ${waits[9]} s`);
	t.true(waits[29]! >= 18 && waits[29]! <= 23, `the thirtieth (three rounds, 24 s): ${waits[29]} s`);
});
