// Staged rollouts as the server runs them (tools/server/rollouts.ts) over a real fleet store, on a fake clock: which
// manifest each device gets, stages opening on success and soak, the halt with its cause, timeouts of silent devices,
// schedules and maintenance windows, pause/resume/abort, the checks of a spec, and the image gate.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RolloutEngine, RolloutError } from "../../tools/server/rollouts.js";
import { stageOf } from "../../tools/server/rollout.js";
import { Clock } from "./lib/clock.js";
import { openStore, type FleetStore } from "../../tools/server/store/store.js";
import type { RolloutSpec } from "../../tools/server/admin-api.js";

const P = "thermo";
const SEED = `${P}\n2`; // the placement's seed: product and the staged release's sequence

interface World { store: FleetStore; engine: RolloutEngine; clock: Clock; ids: string[] }

async function world(devices = 200, options: { staged?: boolean } = {}): Promise<World> {
	const store = await openStore({ file: join(mkdtempSync(join(tmpdir(), "xs-fota-rollouts-")), "fleet.db") });
	const clock = new Clock();
	await store.addProduct(P, new Date(clock.ms));
	const release = (sequence: number, staged: boolean) => store.addRelease({ product: P, sequence, version: `${sequence}.0.0`, securityVersion: 1,
		kind: "sim", imageSha256: String(sequence).repeat(64).slice(0, 64), imageSize: 1000, manifest: new Uint8Array([sequence]), staged }, new Date(clock.ms));
	await release(1, false);
	await release(2, options.staged ?? true);
	const ids = Array.from({ length: devices }, (_, i) => `dev-${String(i).padStart(4, "0")}`);
	for (const id of ids)
		await store.recordReport({ deviceId: id, product: P, version: "1.0.0", state: "valid" }, new Date(clock.ms), 100);
	return { store, clock, ids, engine: new RolloutEngine(store, { now: clock.now }) };
}

const spec = (fields: Partial<RolloutSpec> = {}): RolloutSpec => ({
	product: P, version: "2.0.0", stages: [0.1, 0.5, 1],
	thresholds: { success: 0.9, error: 0.2, minDevices: 5, soakSeconds: 0, timeoutSeconds: 600 }, ...fields,
});

/** Every device asks for its manifest; the versions each got. */
async function poll(w: World, ids = w.ids): Promise<Map<string, string>> {
	const got = new Map<string, string>();
	for (const id of ids) {
		const decision = await w.engine.manifestFor(id, P);
		got.set(id, decision.kind === "release" ? decision.release.version : decision.kind);
	}
	return got;
}

const report = (w: World, id: string, state: string, fields: { version?: string; target?: string; error?: string } = {}) => {
	const r = { deviceId: id, product: P, version: fields.version ?? "1.0.0", state, ...(fields.target ? { target: fields.target } : {}), ...(fields.error ? { error: fields.error } : {}) };
	return w.store.recordReport(r, new Date(w.clock.ms), 100).then(() => w.engine.onReport(r, new Date(w.clock.ms)));
};
const succeed = (w: World, id: string) => report(w, id, "valid", { version: "2.0.0" });
const fail = (w: World, id: string) => report(w, id, "rolled-back", { target: "2.0.0", error: "selftest-failed: sensor: out of range" });

test("only the devices of opened stages get the release; the others keep the baseline", async (t) => {
	const w = await world();
	const view = await w.engine.create(spec());
	t.is(view.state, "running");
	t.is(view.cause, "started: stage 1 of 3 opened (10.0% of the target)");
	const first = w.ids.filter((id) => stageOf(SEED, id, [0.1, 0.5, 1]) === 0);
	t.true(first.length > 5 && first.length < 40, `stage 1 holds ${first.length} of 200`);
	const got = await poll(w);
	for (const id of w.ids)
		t.is(got.get(id), first.includes(id) ? "2.0.0" : "1.0.0", id);
	t.is((await w.store.offers(view.id)).length, first.length);
	const shown = (await w.engine.view(view.id))!;
	t.like(shown.stages[0], { devices: first.length, inProgress: first.length, succeeded: 0, waiting: 0, opened: true });
	t.like(shown.stages[1], { opened: false, inProgress: 0 });
	t.is(shown.totals.devices, 200);
	await w.store.close();
});

test("a stage opens when the one before reaches its success share and has soaked; the rollout completes", async (t) => {
	const w = await world();
	const view = await w.engine.create(spec({ thresholds: { success: 0.9, error: 0.2, minDevices: 5, soakSeconds: 60, timeoutSeconds: 600 } }));
	const got = await poll(w);
	const offered = w.ids.filter((id) => got.get(id) === "2.0.0");
	for (const id of offered.slice(0, Math.floor(offered.length * 0.5)))
		await succeed(w, id);
	await w.engine.tick();
	t.is((await w.engine.view(view.id))!.opened, 0, "half the stage is not 90%");
	t.regex((await w.engine.view(view.id))!.waiting!, /stage 1: \d+ of \d+ succeeded/);
	for (const id of offered)
		await succeed(w, id);
	await w.engine.tick();
	t.is((await w.engine.view(view.id))!.opened, 0, "not soaked yet");
	t.regex((await w.engine.view(view.id))!.waiting!, /soaking/);
	w.clock.advance(61);
	await w.engine.tick();
	const second = (await w.engine.view(view.id, true))!;
	t.is(second.opened, 1);
	t.is(second.events!.at(-1)!.cause, "stage 2 opened: stage 1 reached 100.0% (≥ 90.0%)");
	// every stage succeeds in turn
	for (let round = 0; round < 3; round++) {
		for (const [id, version] of await poll(w))
			if (version === "2.0.0")
				await succeed(w, id);
		w.clock.advance(61);
		await w.engine.tick();
	}
	const done = (await w.engine.view(view.id, true))!;
	t.is(done.state, "complete");
	t.is(done.cause, "complete: 200 succeeded, 0 failed");
	t.deepEqual(done.events!.map((event) => event.state), ["running", "running", "running", "complete"]);
	// a device of the target that comes late still gets the release of a complete rollout
	await w.store.recordReport({ deviceId: "late-1", product: P, version: "1.0.0", state: "valid" }, new Date(w.clock.ms), 100);
	t.is((await poll(w, ["late-1"])).get("late-1"), "2.0.0");
	await w.store.close();
});

test("the rollout halts itself on its error threshold, with the failures' reasons; then offers nothing new", async (t) => {
	const w = await world();
	const view = await w.engine.create(spec());
	const offered = [...(await poll(w))].filter(([, version]) => version === "2.0.0").map(([id]) => id);
	// 4 failures of 4 finished: under the minimum of 5 devices, nothing yet
	for (const id of offered.slice(0, 4))
		await fail(w, id);
	await w.engine.tick();
	t.is((await w.engine.view(view.id))!.state, "running");
	await succeed(w, offered[4]!);
	await w.engine.tick();
	const halted = (await w.engine.view(view.id, true))!;
	t.is(halted.state, "halted");
	t.is(halted.cause, "halted: 4 of 5 failed (80.0% > 20.0%) in stage 1: 4 selftest-failed");
	t.deepEqual(halted.failures, [{ reason: "selftest-failed", count: 4 }]);
	t.like(halted.stages[0], { failed: 4, succeeded: 1, inProgress: offered.length - 5 });
	// nobody new is offered the release; the one that runs it keeps being served it; those in progress stop
	const after = await poll(w);
	t.is(after.get(offered[4]!), "2.0.0");
	for (const id of w.ids.filter((id) => id !== offered[4]))
		t.is(after.get(id), "1.0.0", id);
	t.is((await w.store.offers(view.id)).length, offered.length, "no new offers");
	// resumed as it is, it halts again; resumed with a higher threshold it goes on
	await w.engine.act(view.id, "resume", "alice");
	await w.engine.tick();
	t.is((await w.engine.view(view.id))!.state, "halted");
	const resumed = await w.engine.act(view.id, "resume", "alice", { thresholds: { error: 0.9 } });
	t.is(resumed.cause, "resumed by alice with error threshold 90.0%, success 90.0%");
	await w.engine.tick();
	t.is((await w.engine.view(view.id))!.state, "running");
	await w.store.close();
});

test("a device that started and went silent counts as failed after the timeout; progress restarts the timer", async (t) => {
	const w = await world();
	const view = await w.engine.create(spec({ thresholds: { success: 0.9, error: 0.5, minDevices: 1, soakSeconds: 0, timeoutSeconds: 600 } }));
	const offered = [...(await poll(w))].filter(([, version]) => version === "2.0.0").map(([id]) => id);
	const [silent, busy] = offered as [string, string];
	for (const id of offered.slice(2))
		await succeed(w, id);
	w.clock.advance(400);
	await report(w, busy, "downloading", { target: "2.0.0" });
	w.clock.advance(300); // silent: 700 s since its offer; busy: 300 s since its last report
	await w.engine.tick();
	const shown = (await w.engine.view(view.id))!;
	t.deepEqual(shown.failures, [{ reason: "timed-out", count: 1 }]);
	const offers = new Map((await w.store.offers(view.id)).map((offer) => [offer.deviceId, offer]));
	t.like(offers.get(silent), { status: "failed", reason: "timed-out" });
	t.like(offers.get(busy), { status: "offered" });
	// the timed-out device comes back with the release running: it succeeded after all
	await succeed(w, silent);
	t.like((await w.store.offers(view.id)).find((offer) => offer.deviceId === silent), { status: "succeeded" });
	await w.store.close();
});

test("a start time and maintenance windows are honoured on the server's clock", async (t) => {
	const w = await world();
	// 09:00 UTC; starts at 10:00 UTC; window 02:00-03:00 Paris time (01:00-02:00 UTC in December)
	const view = await w.engine.create(spec({ startAt: "2026-12-04T10:00:00Z", windows: [{ cron: "0 2 * * *", durationMinutes: 60, timeZone: "Europe/Paris" }] }));
	t.is(view.state, "scheduled");
	t.is(view.cause, "scheduled: starts at 2026-12-04T10:00:00.000Z");
	const first = w.ids.find((id) => stageOf(SEED, id, [0.1, 0.5, 1]) === 0)!;
	t.is((await poll(w, [first])).get(first), "1.0.0", "nothing before the start");
	await w.engine.tick();
	t.is((await w.engine.view(view.id))!.state, "scheduled");
	w.clock.advance(3600);
	await w.engine.tick();
	const started = (await w.engine.view(view.id))!;
	t.is(started.state, "running");
	t.false(started.windowOpen);
	t.is(started.nextWindow, "2026-12-05T01:00:00.000Z");
	const wait = await w.engine.manifestFor(first, P);
	t.like(wait, { kind: "wait", seconds: 3600 }, "told to come back (at most an hour later)");
	w.clock.ms = Date.UTC(2026, 11, 5, 0, 59, 30);
	t.like(await w.engine.manifestFor(first, P), { kind: "wait", seconds: 30 });
	w.clock.ms = Date.UTC(2026, 11, 5, 1, 30);
	t.is((await poll(w, [first])).get(first), "2.0.0", "inside the window");
	w.clock.ms = Date.UTC(2026, 11, 5, 2, 0);
	const second = w.ids.filter((id) => stageOf(SEED, id, [0.1, 0.5, 1]) === 0)[1]!;
	t.like(await w.engine.manifestFor(second, P), { kind: "wait" }, "the window closed at 03:00 Paris");
	t.is((await poll(w, [first])).get(first), "2.0.0", "a device that started goes on outside the window");
	// in summer Paris is UTC+2: the same window opens at 00:00 UTC
	w.clock.ms = Date.UTC(2027, 6, 1, 0, 30);
	t.like(await w.engine.manifestFor(second, P), { kind: "release" });
	await w.store.close();
});

test("pause keeps the started devices going; abort stops the release for every device that does not run it", async (t) => {
	const w = await world();
	const view = await w.engine.create(spec({ stages: [0.5, 1] }));
	const firstStage = w.ids.filter((id) => stageOf(SEED, id, [0.5, 1]) === 0);
	const [started, done, ...rest] = firstStage as [string, string, ...string[]];
	await poll(w, [started, done]);
	await succeed(w, done);
	const paused = await w.engine.act(view.id, "pause", "bob");
	t.is(paused.state, "paused");
	t.is(paused.cause, "paused by bob");
	const during = await poll(w, [started, done, rest[0]!]);
	t.deepEqual([...during.values()], ["2.0.0", "2.0.0", "1.0.0"]);
	await t.throwsAsync(w.engine.act(view.id, "pause", "bob"), { instanceOf: RolloutError, message: `rollout ${view.id} is paused: it cannot be paused` });
	await w.engine.act(view.id, "resume", "bob");
	t.is((await poll(w, [rest[0]!])).get(rest[0]!), "2.0.0");
	const aborted = await w.engine.act(view.id, "abort", "bob");
	t.is(aborted.state, "aborted");
	t.regex(aborted.cause, /^aborted by bob/);
	const after = await poll(w, [started, done, rest[0]!, rest[1]!]);
	t.deepEqual([...after.values()], ["1.0.0", "2.0.0", "1.0.0", "1.0.0"]);
	await t.throwsAsync(w.engine.act(view.id, "resume", "bob"), { message: /is aborted: it cannot be resumed/ });
	// a new rollout may start now that this one is over
	t.is((await w.engine.create(spec())).state, "running");
	await w.store.close();
});

test("a target by version and by ids; a device once offered stays in the target", async (t) => {
	const w = await world(40);
	await w.store.recordReport({ deviceId: "old-1", product: P, version: "0.9.0", state: "valid" }, new Date(w.clock.ms), 100);
	const view = await w.engine.create(spec({ stages: [1], filter: { versions: ["0.9.0"] } }));
	const got = await poll(w, ["old-1", ...w.ids]);
	t.is(got.get("old-1"), "2.0.0");
	t.true(w.ids.every((id) => got.get(id) === "1.0.0"));
	await succeed(w, "old-1");
	t.is((await poll(w, ["old-1"])).get("old-1"), "2.0.0", "it runs 2.0.0 now, and is still of the target");
	t.is((await w.engine.view(view.id))!.totals.devices, 1);
	await w.engine.act(view.id, "abort", "carol");
	const byId = await w.engine.create(spec({ stages: [1], filter: { devices: [w.ids[3]!] } }));
	const second = await poll(w);
	t.deepEqual(w.ids.filter((id) => second.get(id) === "2.0.0"), [w.ids[3]]);
	t.is(byId.totals.devices, 1);
	await w.store.close();
});

test("a spec is checked field by field; one rollout per product at a time", async (t) => {
	const w = await world(5);
	const refused = async (fields: Record<string, unknown>, code: string, message: RegExp) => {
		const error = await t.throwsAsync(w.engine.create({ ...spec(), ...fields }), { instanceOf: RolloutError });
		t.is(error?.code, code);
		t.regex(error?.message ?? "", message);
	};
	await refused({ version: "9.9.9" }, "unknown-release", /has no release 9.9.9/);
	await refused({ version: "1.0.0" }, "not-staged", /already served to every device/);
	await refused({ stages: [0.5, 0.2, 1] }, "bad-rollout", /rise strictly/);
	await refused({ stages: [0.5] }, "bad-rollout", /last stage must take the whole target/);
	await refused({ stages: undefined, exponential: { first: 0.01, factor: 1 } }, "bad-rollout", /factor above 1/);
	await refused({ exponential: { first: 0.01, factor: 2 } }, "bad-rollout", /stages or exponential, not both/);
	await refused({ thresholds: { error: 1.5 } }, "bad-rollout", /thresholds.error must be a number in \[0, 1\)/);
	await refused({ thresholds: { speed: 1 } }, "bad-rollout", /thresholds.speed is not a threshold/);
	await refused({ windows: [{ cron: "61 * * * *", durationMinutes: 5, timeZone: "UTC" }] }, "bad-rollout", /window 1: cron "61 \* \* \* \*"/);
	await refused({ windows: [{ cron: "0 2 * * *", durationMinutes: 5, timeZone: "Mars/Olympus" }] }, "bad-rollout", /not a time zone/);
	await refused({ startAt: "tomorrow" }, "bad-rollout", /startAt must be a time/);
	await refused({ filter: { devices: ["../etc"] } }, "bad-rollout", /filter.devices/);
	await refused({ colour: "red" }, "bad-rollout", /colour is not a rollout field/);
	const exponential = await w.engine.create({ ...spec(), stages: undefined, exponential: { first: 0.01, factor: 4 } });
	t.deepEqual(exponential.stages.map((stage) => stage.share), [0.01, 0.04, 0.16, 0.64, 1]);
	await refused({}, "rollout-running", /abort it \(or let it complete\) first/);
	await w.store.close();
});

test("a staged release's image goes only to the devices offered it", async (t) => {
	const w = await world(100);
	await w.engine.create(spec({ stages: [0.1, 1] }));
	const staged = (await w.store.releases(P)).find((release) => release.version === "2.0.0")!;
	const baseline = (await w.store.releases(P)).find((release) => release.version === "1.0.0")!;
	const got = await poll(w);
	for (const id of w.ids) {
		t.is(await w.engine.mayDownload(id, staged), got.get(id) === "2.0.0", id);
		t.true(await w.engine.mayDownload(id, baseline));
	}
	await w.store.close();
});
