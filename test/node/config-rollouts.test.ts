// Config rollouts (issue 12) through the rollout machinery (tools/server/rollouts.ts) over a real fleet store, on a
// fake clock: a staged config document is given (the pending rule of tools/server/configs.ts) only to the devices of
// opened stages; stages open on "config-valid"; "config-rolled-back" and "config-rejected" halt the rollout with the
// devices' reasons, as do silent devices past the timeout; pause, resume and abort; a spec's checks; and a config
// rollout runs beside a release rollout of the same product without touching which manifest a device gets.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RolloutEngine, RolloutError } from "../../tools/server/rollouts.js";
import { stageOf } from "../../tools/server/rollout.js";
import { pendingConfig } from "../../tools/server/configs.js";
import { Clock } from "./lib/clock.js";
import { openStore, type DeviceReport, type FleetStore } from "../../tools/server/store/store.js";
import type { RolloutSpec } from "../../tools/server/admin-api.js";

const P = "thermo";
const STAGES = [0.1, 0.5, 1];
const SEED = `${P}\nconfig 2`; // the placement's seed of a config rollout: product and the document's sequence

interface World { store: FleetStore; engine: RolloutEngine; clock: Clock; ids: string[] }

/** A product with a release for everyone, document 1 for everyone (every device runs it) and document 2 staged. */
async function world(devices = 100, options: { devicesOf2?: string[] } = {}): Promise<World> {
	const store = await openStore({ file: join(mkdtempSync(join(tmpdir(), "xs-fota-config-rollouts-")), "fleet.db") });
	const clock = new Clock();
	const at = () => new Date(clock.ms);
	await store.addProduct(P, at());
	await store.addRelease({ product: P, sequence: 1, version: "1.0.0", securityVersion: 1, kind: "sim", imageSha256: "1".repeat(64), imageSize: 10, manifest: new Uint8Array([1]) }, at());
	// the store takes the bytes as they come: the signature checks are acceptConfigDoc's (server-config.test.ts)
	const doc = (sequence: number, staged: boolean, ids?: string[]) => store.addConfigDoc({ product: P, sequence, devices: ids ?? null, staged,
		bytes: new Uint8Array([0x58, 0x46, 0x43, 0x31, sequence]), sha256: String(sequence).repeat(64), createdBy: "test" }, at());
	await doc(1, false);
	await doc(2, true, options.devicesOf2);
	const ids = Array.from({ length: devices }, (_, i) => `dev-${String(i).padStart(4, "0")}`);
	for (const id of ids)
		await store.recordReport({ deviceId: id, product: P, version: "1.0.0", state: "valid", config: { sha256: "1".repeat(64), fields: {}, sequence: 1, source: "working" } }, at(), 100);
	return { store, clock, ids, engine: new RolloutEngine(store, { now: clock.now }) };
}

const spec = (fields: Partial<RolloutSpec> = {}): RolloutSpec => ({
	product: P, config: 2, stages: STAGES, thresholds: { success: 0.9, error: 0.2, minDevices: 5, soakSeconds: 0, timeoutSeconds: 600 }, ...fields,
});

/** Every device checks in naming config 1; the sequence of the document each is given (0: none). */
async function poll(w: World, ids = w.ids, runs = 1): Promise<Map<string, number>> {
	const got = new Map<string, number>();
	for (const id of ids) {
		const doc = await pendingConfig(w.store, id, P, runs, (candidate) => w.engine.offerConfig(id, candidate));
		got.set(id, doc?.sequence ?? 0);
	}
	return got;
}

async function report(w: World, id: string, state: string, fields: Partial<DeviceReport> = {}) {
	const r: DeviceReport = { deviceId: id, product: P, version: "1.0.0", state, configTarget: 2, ...fields };
	await w.store.recordReport(r, new Date(w.clock.ms), 100);
	await w.engine.onReport(r, new Date(w.clock.ms));
}
const keep = (w: World, id: string) => report(w, id, "config-valid", { config: { sha256: "2".repeat(64), fields: {}, sequence: 2, source: "working" } });
const rollBack = (w: World, id: string) => report(w, id, "config-rolled-back",
	{ error: "config-selftest-failed: update-server: connect ECONNREFUSED", config: { sha256: "1".repeat(64), fields: {}, sequence: 1, source: "working" } });

const offeredIn = (got: Map<string, number>) => [...got].filter(([, sequence]) => sequence === 2).map(([id]) => id);

test("only the devices of opened stages are given the document; stages open on config-valid; the rollout completes", async (t) => {
	const w = await world();
	t.teardown(() => w.store.close());
	const view = await w.engine.create(spec());
	t.like(view, { kind: "config", version: "config 2", sequence: 2, state: "running", cause: "started: stage 1 of 3 opened (10.0% of the target)" });
	const first = w.ids.filter((id) => stageOf(SEED, id, STAGES) === 0);
	t.true(first.length > 2 && first.length < 30, `stage 1 holds ${first.length} of 100`);
	const got = await poll(w);
	for (const id of w.ids)
		t.is(got.get(id), first.includes(id) ? 2 : 0, id);
	t.like((await w.engine.view(view.id))!.stages[0], { devices: first.length, inProgress: first.length, succeeded: 0 });
	// progress keeps the offer alive; config-valid settles it
	for (const id of first)
		await report(w, id, "config-trying");
	for (const id of first)
		await keep(w, id);
	await w.engine.tick();
	const second = (await w.engine.view(view.id, true))!;
	t.is(second.opened, 1);
	t.is(second.events!.at(-1)!.cause, "stage 2 opened: stage 1 reached 100.0% (≥ 90.0%)");
	t.is((await poll(w, first, 2)).get(first[0]!), 0, "a device that runs it is given nothing more");
	for (let round = 0; round < 3; round++) {
		for (const id of offeredIn(await poll(w)))
			await keep(w, id);
		await w.engine.tick();
	}
	const done = (await w.engine.view(view.id, true))!;
	t.is(done.state, "complete");
	t.is(done.cause, "complete: 100 succeeded, 0 failed");
	// the manifests are not the config rollout's business: every device still gets the release for everyone
	const decision = await w.engine.manifestFor(w.ids[0]!, P);
	t.like(decision, { kind: "release", release: { version: "1.0.0" } });
});

test("config-rolled-back and config-rejected halt the rollout with the devices' reasons; nothing new is offered; resume and abort", async (t) => {
	const w = await world();
	t.teardown(() => w.store.close());
	const view = await w.engine.create(spec());
	const offered = offeredIn(await poll(w));
	t.true(offered.length >= 6);
	for (const id of offered.slice(0, 3))
		await rollBack(w, id);
	await report(w, offered[3]!, "config-rejected", { error: "invalid-setting: device config: chunkBytes must be a multiple of 4096" });
	await w.engine.tick();
	t.is((await w.engine.view(view.id))!.state, "running", "4 finished: under the minimum of 5");
	await keep(w, offered[4]!);
	await w.engine.tick();
	const halted = (await w.engine.view(view.id, true))!;
	t.is(halted.state, "halted");
	t.is(halted.cause, "halted: 4 of 5 failed (80.0% > 20.0%) in stage 1: 3 config-selftest-failed, 1 invalid-setting");
	t.deepEqual(halted.failures, [{ reason: "config-selftest-failed", count: 3 }, { reason: "invalid-setting", count: 1 }]);
	// a failed device is not given the document again; nobody new is offered it; the one in progress is not either
	const after = await poll(w);
	t.deepEqual(offeredIn(after), [offered[4]], "halted: only the device that kept it is given it still (had it lost it)");
	t.is((await w.store.offers(view.id)).length, offered.length, "no new offers");
	t.deepEqual((await w.store.configFailures(offered[0]!)).map((failure) => failure.sequence), [2]);
	// resumed with a higher error threshold, it goes on; the devices whose trial failed still get nothing
	const resumed = await w.engine.act(view.id, "resume", "dana", { thresholds: { error: 0.9 } });
	t.is(resumed.state, "running");
	const again = await poll(w);
	for (const id of offered.slice(0, 4))
		t.is(again.get(id), 0, `${id} failed it: never again`);
	t.is(again.get(offered[5]!), 2, "in progress: offered still");
	// pause: no new device; abort: nobody, with the cause naming the document
	t.is((await w.engine.act(view.id, "pause", "dana")).state, "paused");
	t.is((await w.engine.act(view.id, "abort", "dana")).cause, "aborted by dana: the config document is no longer offered; devices that run it keep it");
	t.deepEqual(offeredIn(await poll(w)), [offered[4]], "aborted: only the device that kept it (were it to lose it)");
});

test("an offered device silent past the timeout fails as timed-out", async (t) => {
	const w = await world();
	t.teardown(() => w.store.close());
	const view = await w.engine.create(spec({ thresholds: { success: 0.9, error: 0.2, minDevices: 1, soakSeconds: 0, timeoutSeconds: 600 } }));
	const offered = offeredIn(await poll(w));
	w.clock.advance(300);
	await report(w, offered[0]!, "config-interrupted"); // progress: its timeout runs anew
	w.clock.advance(301);
	await w.engine.tick();
	const shown = (await w.engine.view(view.id, true))!;
	t.is(shown.state, "halted");
	t.deepEqual(shown.failures, [{ reason: "timed-out", count: offered.length - 1 }]);
	t.like((await w.store.offers(view.id)).find((offer) => offer.deviceId === offered[0]), { status: "offered" });
});

test("a pause offers nothing new but keeps what was offered; a window outside offers nothing yet", async (t) => {
	const w = await world();
	t.teardown(() => w.store.close());
	const view = await w.engine.create(spec());
	const offered = offeredIn(await poll(w, w.ids.slice(0, 50)));
	await w.engine.act(view.id, "pause", "dana");
	const paused = await poll(w);
	for (const id of w.ids)
		t.is(paused.get(id), offered.includes(id) ? 2 : 0, id);
	await w.engine.act(view.id, "abort", "dana");
	// closed window: hour + 12 for an hour, in UTC
	const hour = (new Date(w.clock.ms).getUTCHours() + 12) % 24;
	const windowed = await w.engine.create(spec({ windows: [{ cron: `0 ${hour} * * *`, durationMinutes: 60, timeZone: "UTC" }] }));
	t.false(windowed.windowOpen);
	const fresh = w.ids.filter((id) => !offered.includes(id) && stageOf(SEED, id, STAGES) === 0);
	t.deepEqual(offeredIn(await poll(w, fresh)), []);
	w.clock.advance(12 * 3600);
	t.deepEqual(offeredIn(await poll(w, fresh)), fresh);
});

test("a document for some devices rolls out to those alone", async (t) => {
	const named = ["dev-0001", "dev-0002", "dev-0003"];
	const w = await world(20, { devicesOf2: named });
	t.teardown(() => w.store.close());
	const view = await w.engine.create(spec({ stages: [1] }));
	t.deepEqual(view.filter.devices, named);
	t.is(view.totals.devices, 3);
	t.deepEqual(offeredIn(await poll(w)).sort(), named);
});

test("a config rollout's spec is checked, and it runs beside a release rollout of the product", async (t) => {
	const w = await world(10);
	t.teardown(() => w.store.close());
	const refused = async (fields: Record<string, unknown>, status: number, code: string, message: RegExp) => {
		const error = await t.throwsAsync(w.engine.create({ ...spec(), ...fields }), { instanceOf: RolloutError });
		t.is(error!.status, status);
		t.is(error!.code, code);
		t.regex(error!.message, message);
	};
	await refused({ version: "1.0.0" }, 400, "bad-rollout", /version or config, not both/);
	await refused({ config: 0 }, 400, "bad-rollout", /whole number from 1/);
	await refused({ config: "2" }, 400, "bad-rollout", /whole number from 1/);
	await refused({ config: 9 }, 404, "unknown-config", /no config document of sequence 9/);
	await refused({ config: 1 }, 409, "not-staged", /already given to every device/);
	await w.store.addRelease({ product: P, sequence: 2, version: "2.0.0", securityVersion: 1, kind: "sim", imageSha256: "2".repeat(64), imageSize: 10, manifest: new Uint8Array([2]), staged: true }, new Date(w.clock.ms));
	const release = await w.engine.create({ product: P, version: "2.0.0", stages: [1] });
	const config = await w.engine.create(spec({ stages: [1] }));
	t.like(release, { kind: "release", state: "running" });
	t.like(config, { kind: "config", state: "running" });
	await refused({}, 409, "rollout-running", /config rollout \d+ of "thermo" is running/);
	// each gives its own: the release's manifest, and the document
	t.like(await w.engine.manifestFor(w.ids[0]!, P), { kind: "release", release: { version: "2.0.0" } });
	t.is((await poll(w, [w.ids[0]!])).get(w.ids[0]!), 2);
	// a config report settles no release offer, and a release report no config offer
	await keep(w, w.ids[0]!);
	await w.engine.onReport({ deviceId: w.ids[0]!, product: P, version: "2.0.0", state: "valid" }, new Date(w.clock.ms));
	t.like((await w.store.offers(config.id))[0], { status: "succeeded" });
	t.like((await w.store.offers(release.id))[0], { status: "succeeded" });
	t.is((await w.store.offersTo(w.ids[0]!)).length, 2);
});
