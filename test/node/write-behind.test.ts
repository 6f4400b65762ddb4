// The server's writes that may wait (tools/server/write-behind.ts): in order per key, a moment after their answer,
// at once when flushed; a failure is reported and the chain goes on.
import test from "ava";
import { WriteBehind } from "../../tools/server/write-behind.js";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a key's writes wait for the delay, then run one after another in the order they came", async (t) => {
	const ran: string[] = [];
	const behind = new WriteBehind(80, () => t.fail("no write fails here"));
	const write = (name: string, ms = 0) => async () => { ran.push(`${name} begins`); await tick(ms); ran.push(`${name} ends`); };
	behind.add("a", "first", write("a1", 20));
	behind.add("a", "second", write("a2"));
	behind.add("b", "first", write("b1"));
	await tick(30);
	t.deepEqual(ran, [], "ran before its delay");
	t.is(behind.size, 2);
	await tick(90);
	t.deepEqual(ran.filter((line) => line.startsWith("a")), ["a1 begins", "a1 ends", "a2 begins", "a2 ends"]);
	t.true(ran.includes("b1 ends"));
	t.is(behind.size, 0, "a key whose writes are done is forgotten");
});

test("flush runs a key's writes at once and resolves when they are done; flushAll does every key; other keys keep waiting", async (t) => {
	const ran: string[] = [];
	const behind = new WriteBehind(60_000, () => t.fail("no write fails here"));
	behind.add("a", "first", async () => { await tick(5); ran.push("a1"); });
	behind.add("b", "first", async () => { ran.push("b1"); });
	await behind.flush("a");
	t.deepEqual(ran, ["a1"]);
	behind.add("a", "second", async () => { ran.push("a2"); }); // a new chain: it waits again
	await tick(20);
	t.deepEqual(ran, ["a1"]);
	await behind.flush("nobody");
	await behind.flushAll();
	t.deepEqual(ran.sort(), ["a1", "a2", "b1"]);
	t.is(behind.size, 0);
});

test("a write that fails is reported with its key and what it was, and the writes after it still run", async (t) => {
	const failed: string[] = [];
	const ran: string[] = [];
	const behind = new WriteBehind(0, (key, what, error) => failed.push(`${key}: ${what}: ${(error as Error).message}`));
	behind.add("a", "its check", async () => { throw new Error("the database is gone"); });
	behind.add("a", "its report", async () => { ran.push("report"); });
	await behind.flush("a");
	t.deepEqual(failed, ["a: its check: the database is gone"]);
	t.deepEqual(ran, ["report"]);
});

test("a delay of 0 runs at once; a delay that is not a whole number of ms, 0 or more, is refused", async (t) => {
	const ran: string[] = [];
	const behind = new WriteBehind(0, () => {});
	behind.add("a", "first", async () => { ran.push("a1"); });
	await tick(0);
	t.deepEqual(ran, ["a1"]);
	for (const bad of [-1, 1.5, NaN, Infinity])
		t.throws(() => new WriteBehind(bad, () => {}), { instanceOf: RangeError });
});
