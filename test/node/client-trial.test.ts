// The trial of a new image, rollback and its report, the app's holds and the maintenance window.
import test from "ava";
import { Rig } from "./lib/rig.js";
import { Reboot } from "./fakes/flash.js";
import { bytes } from "./lib/release.js";

const IMAGE = bytes(50_000, 5);

async function updateTo(rig: Rig, version: string, sequence: number) {
	rig.publish(IMAGE, { version, sequence, securityVersion: sequence });
	const outcome = await rig.check();
	if (outcome !== "reboot")
		throw new Error(`no update: ${JSON.stringify(outcome)}`);
	rig.reset(version);
}

test("a failing self-test marks the image invalid, the old image boots and reports why", async (t) => {
	const rig = new Rig();
	await updateTo(rig, "3.0.0", 3);
	const failing = rig.client({ selfTest: [{ name: "sensor", run: () => { throw new Error("sensor did not answer"); } }] });
	const error = await t.throwsAsync(failing.boot(), { instanceOf: Reboot });
	t.is((error as Reboot).reason, "invalid");
	rig.reset("1.0.0");
	t.is(rig.flash.runningIndex, 0);
	const outcome: any = await rig.client().boot();
	t.is(outcome.state, "rolled-back");
	t.regex(outcome.reason, /selftest-failed: sensor: sensor did not answer/);
	t.like(rig.server.reports.at(-1), { state: "rolled-back", version: "1.0.0", target: "3.0.0" });
	t.regex(rig.server.reports.at(-1).error, /sensor did not answer/);
	t.is(rig.store.get("secver"), undefined, "the security version was raised by a failed image");
	t.like(await rig.check(), { result: "none", why: "previously-failed" });
});

test("a self-test that never answers fails at the deadline", async (t) => {
	const rig = new Rig({ selftestSeconds: 2 });
	await updateTo(rig, "3.0.0", 3);
	const hanging = rig.client({ selfTest: [{ name: "network", run: () => new Promise<void>(() => {}) }] });
	await t.throwsAsync(hanging.boot(), { instanceOf: Reboot });
	rig.reset("1.0.0");
	const outcome: any = await rig.client().boot();
	t.regex(outcome.reason, /network: no answer within/);
});

test("a crash during the trial is rolled back by the bootloader and reported by the old image", async (t) => {
	const rig = new Rig();
	await updateTo(rig, "3.0.0", 3);
	const crashing = rig.client({ selfTest: [{ name: "app", run: () => new Promise<void>(() => {}) }] });
	void crashing.boot().catch(() => {});
	await new Promise((resolve) => setTimeout(resolve, 20));
	rig.reset("1.0.0"); // the watchdog or a crash resets the board mid-trial
	t.is(rig.flash.slots[1]!.state, "aborted");
	const outcome: any = await rig.client().boot();
	t.deepEqual(outcome, { state: "rolled-back", from: "3.0.0", reason: "selftest-crashed-or-hung" });
});

test("the trial includes reaching the update server: a new image that cannot is rolled back", async (t) => {
	const rig = new Rig();
	await updateTo(rig, "3.0.0", 3);
	rig.server.faults.unreachable = true;
	await t.throwsAsync(rig.client().boot(), { instanceOf: Reboot });
	t.is(rig.flash.slots[1]!.state, "invalid");
});

test("a hold defers activation and the reboot until it is released", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	const client = rig.client();
	const release = client.hold("pouring concrete");
	const check = rig.check(client);
	const held = () => rig.events.some((event) => event.type === "held" && (event.holds as string[]).includes("pouring concrete"));
	for (let waited = 0; !held() && waited < 10000; waited += 10)
		await new Promise((resolve) => setTimeout(resolve, 10));
	t.true(held(), "the verified update never waited for the hold");
	await new Promise((resolve) => setTimeout(resolve, 100)); // still held a while later
	t.is(rig.flash.bootIndex, 0, "activated while held");
	t.false(rig.types().includes("reboot"));
	release();
	t.is(await check, "reboot");
	t.is(rig.flash.bootIndex, 1);
});

test("outside the maintenance window nothing is downloaded; inside it the update proceeds", async (t) => {
	const closed = new Rig({ window: { start: "02:00", end: "04:00" } });
	closed.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	closed.clock.wallMs = Date.UTC(2026, 10, 24, 12, 0);
	const outcome: any = await closed.check();
	t.is(outcome.result, "deferred");
	t.is(outcome.reason, "outside-window");
	t.true(Math.abs(outcome.waitMs - 14 * 3600 * 1000) < 5000);
	t.is(closed.flash.writes, 0);
	closed.clock.wallMs = Date.UTC(2026, 10, 25, 2, 30);
	t.is(await closed.check(), "reboot");
});

test("with a window but no known time: deferred by default, or allowed when configured", async (t) => {
	const defer = new Rig({ window: { start: "02:00", end: "04:00" } });
	defer.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	defer.clock.wallMs = undefined;
	t.like(await defer.check(), { result: "deferred", reason: "no-clock" });
	const allow = new Rig({ window: { start: "02:00", end: "04:00" }, withoutClock: "allow" });
	allow.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	allow.clock.wallMs = undefined;
	t.is(await allow.check(), "reboot");
});

// Issue 15: the trial checks that the promised image is the one that runs.
async function wrongImage(t: any, rig: Rig, client: ReturnType<Rig["client"]>, pattern: RegExp) {
	const error = await t.throwsAsync(client.boot(), { instanceOf: Reboot });
	t.is((error as Reboot).reason, "invalid", "the pending image is marked invalid");
	t.false(rig.events.some((event) => event.type === "selftest" && event.result === "start"), "no self-test runs on the wrong image");
	t.false(rig.events.some((event) => event.type === "valid"));
	rig.reset("1.0.0");
	const outcome: any = await rig.client().boot();
	t.is(outcome.state, "rolled-back");
	t.regex(outcome.reason, pattern);
	t.like(rig.server.reports.at(-1), { state: "rolled-back", version: "1.0.0", target: "3.0.0" });
	t.regex(rig.server.reports.at(-1).error, pattern);
	t.is(rig.store.get("secver"), undefined, "the wrong image raised no counter");
}

test("an image that reports another version than the manifest promised fails its trial with wrong-image and rolls back", async (t) => {
	const rig = new Rig();
	await updateTo(rig, "3.0.0", 3);
	rig.version = "1.0.0"; // the artifact uploaded as 3.0.0 is a 1.0.0 build
	await wrongImage(t, rig, rig.client(), /wrong-image: the manifest promised 3\.0\.0, the image reports 1\.0\.0/);
});

test("an image of another kind than the manifest promised fails its trial with wrong-image", async (t) => {
	const rig = new Rig();
	await updateTo(rig, "3.0.0", 3);
	await wrongImage(t, rig, rig.client({ firmware: { version: "3.0.0", kind: "lin" } }), /wrong-image: the manifest promised a sim image, this firmware is lin/);
});

test("a running slot that does not hash to the promised digest fails its trial with wrong-image", async (t) => {
	const rig = new Rig();
	await updateTo(rig, "3.0.0", 3);
	const slot = rig.flash.running();
	rig.flash.poke(slot.index, 100, rig.flash.read(slot, 100, 1).map((byte) => byte ^ 0x40)); // what booted is not what was verified
	await wrongImage(t, rig, rig.client(), /wrong-image: the running slot's SHA-256 [0-9a-f]{16}… is not the promised/);
});
