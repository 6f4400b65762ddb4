// Power losses around an activation (issue 9, defects 6 and 7), with the client's real code over fakes:
// a cut before otadata names the new slot, during the trial, or while a passed trial marks the image valid is not
// the image's fault, and the release is activated again from the bytes already in the slot; a crash or a hang
// still rolls it back for good; a slot being rewritten loses its old otadata entry before its first byte changes;
// and an image that runs without having passed a trial is tried before it is confirmed.
import test from "ava";
import { MAX_INTERRUPTED } from "../../modules/fota/client.js";
import type { Ports } from "../../modules/fota/ports.js";
import { Rig } from "./lib/rig.js";
import { PowerCut, Reboot } from "./fakes/flash.js";
import { bytes } from "./lib/release.js";

const IMAGE = bytes(50_000, 9);

/** The device's ports as the client sees them until `cut()`: from then on every call into the flash, the store or
 * the network fails, as nothing runs on a board without power (the fakes themselves keep what was written).
 * `at` names a flash operation during which the power goes: its otadata write never lands. */
function dying(rig: Rig, at?: "activate" | "markValid"): { ports: Ports; cut(): void } {
	let dead = false;
	const guard = <T extends object>(target: T): T => new Proxy(target, {
		get(object, name) {
			const value = Reflect.get(object, name, object);
			if (typeof value !== "function")
				return value;
			return (...args: unknown[]) => {
				if (name === at)
					dead = true;
				if (dead)
					throw new PowerCut("the board has no power");
				return value.apply(object, args);
			};
		},
	});
	const ports = rig.ports();
	return {
		ports: { ...ports, flash: guard(ports.flash), store: guard(ports.store), transport: guard(ports.transport) },
		cut: () => { dead = true; },
	};
}

/** v1 checks, finds v2 and activates it; returns once the client asked for the reboot. */
async function activateV2(rig: Rig): Promise<void> {
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 1 });
	const outcome = await rig.check();
	if (outcome !== "reboot")
		throw new Error(`no activation: ${JSON.stringify(outcome)}`);
}

/** After an interruption, the old image's next check activates v2 again without fetching it; v2 then passes. */
async function finishesFromTheSlot(t: any, rig: Rig): Promise<void> {
	const before = rig.server.imageBytes;
	t.is(await rig.check(), "reboot", "v2 was not activated again");
	t.is(rig.server.imageBytes, before, "the image was fetched again although the slot held it whole");
	rig.reset("2.0.0");
	t.like(await rig.client().boot(), { state: "confirmed", version: "2.0.0" });
	t.is(rig.flash.slots[1]!.state, "valid");
	t.is(rig.store.get("seq"), "2");
	t.is(rig.store.get("interrupted"), undefined, "the count of interruptions outlived the confirmation");
}

test("a power cut after the pending record, before otadata names the new slot: the release is activated again, not skipped", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 1 });
	const board = dying(rig, "activate");
	await t.throwsAsync(rig.client({ ports: board.ports }).check(), { instanceOf: PowerCut });
	t.truthy(rig.store.get("pending"), "the pending record was written before the activation");
	rig.reset(undefined, "power-on");
	t.is(rig.flash.runningIndex, 0);
	t.deepEqual(await rig.client().boot(), { state: "interrupted", version: "2.0.0", reason: "power-loss-before-trial" });
	t.like(rig.server.reports.at(-1), { state: "interrupted", error: "power-loss-before-trial", target: "2.0.0" });
	t.is(rig.store.get("failseq"), undefined, "the release was marked failed");
	await finishesFromTheSlot(t, rig);
});

test("a power cut during the trial: the old image boots, says the trial was interrupted, and activates the release again", async (t) => {
	const rig = new Rig();
	await activateV2(rig);
	rig.reset("2.0.0");
	const board = dying(rig);
	const trial = rig.client({ ports: board.ports, selfTest: [{ name: "slow", run: () => new Promise<void>(() => {}) }] });
	const running = trial.boot().catch((error) => error);
	await new Promise((resolve) => setTimeout(resolve, 20));
	board.cut();
	rig.reset("1.0.0", "power-on");
	t.is(rig.flash.slots[1]!.state, "aborted", "the bootloader did not abort the interrupted trial");
	t.deepEqual(await rig.client().boot(), { state: "interrupted", version: "2.0.0", reason: "power-loss-in-trial" });
	t.is(rig.store.get("failseq"), undefined);
	await finishesFromTheSlot(t, rig);
	t.true((await running) instanceof PowerCut);
});

test("a cut while a passed trial marks the image valid is reported as such, not as a crash, and the release is activated again", async (t) => {
	const rig = new Rig();
	await activateV2(rig);
	rig.reset("2.0.0");
	const board = dying(rig, "markValid");
	await t.throwsAsync(rig.client({ ports: board.ports }).boot(), { instanceOf: PowerCut });
	t.like(JSON.parse(rig.store.get("pending") as string), { stage: "confirming" });
	rig.reset("1.0.0", "power-on");
	const outcome = await rig.client().boot();
	t.deepEqual(outcome, { state: "interrupted", version: "2.0.0", reason: "reset-while-confirming" });
	t.false(rig.server.reports.some((report) => report.error === "selftest-crashed-or-hung"));
	await finishesFromTheSlot(t, rig);
});

for (const cause of ["watchdog", "crash", "software"] as const) {
	test(`a ${cause} reset during the trial is the image's fault: rolled back and skipped for good`, async (t) => {
		const rig = new Rig();
		await activateV2(rig);
		rig.reset("2.0.0");
		const board = dying(rig);
		const trial = rig.client({ ports: board.ports, selfTest: [{ name: "app", run: () => new Promise<void>(() => {}) }] });
		void trial.boot().catch(() => {});
		await new Promise((resolve) => setTimeout(resolve, 20));
		board.cut();
		rig.reset("1.0.0", cause);
		t.deepEqual(await rig.client().boot(), { state: "rolled-back", from: "2.0.0", reason: "selftest-crashed-or-hung" });
		t.is(rig.store.get("failseq"), "2");
		t.like(await rig.check(), { result: "none", why: "previously-failed" });
	});
}

test(`an image whose activation is cut short ${MAX_INTERRUPTED + 1} times in a row is given up, and says why`, async (t) => {
	const rig = new Rig();
	await activateV2(rig);
	for (let round = 1; round <= MAX_INTERRUPTED + 1; round++) {
		rig.reset("2.0.0");
		const board = dying(rig);
		const trial = rig.client({ ports: board.ports, selfTest: [{ name: "app", run: () => new Promise<void>(() => {}) }] });
		void trial.boot().catch(() => {});
		await new Promise((resolve) => setTimeout(resolve, 10));
		board.cut();
		rig.reset("1.0.0", "brownout");
		const outcome: any = await rig.client().boot();
		if (round <= MAX_INTERRUPTED) {
			t.deepEqual(outcome, { state: "interrupted", version: "2.0.0", reason: "power-loss-in-trial" }, `round ${round}`);
			t.is(await rig.check(), "reboot", `round ${round}: not activated again`);
		}
		else {
			t.is(outcome.state, "rolled-back");
			t.is(outcome.reason, `interrupted-too-often: power-loss-in-trial ${MAX_INTERRUPTED + 1} times`);
			t.is(rig.store.get("failseq"), "2");
		}
	}
});

test("a slot being rewritten loses the otadata entry of the image it held before its first byte changes", async (t) => {
	const rig = new Rig();
	// slot 1 once ran an image that was confirmed (seq 1); slot 0 runs now (seq 2)
	Object.assign(rig.flash.slots[1]!, { state: "valid", seq: 1 });
	Object.assign(rig.flash.slots[0]!, { state: "valid", seq: 2 });
	rig.flash.poke(1, 0, new Uint8Array(4096).fill(0x42));
	const order: string[] = [];
	for (const name of ["invalidate", "erase", "write"] as const) {
		const original = rig.flash[name].bind(rig.flash) as (...args: any[]) => void;
		(rig.flash as any)[name] = (...args: any[]) => {
			order.push(`${name} ${args[0].index} ${rig.flash.slots[1]!.state}`);
			original(...args);
		};
	}
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 1 });
	rig.flash.cutAfter = 3; // the invalidation, an erase and a write; then the power goes mid-download
	t.like(await rig.client().check(), { result: "error" });
	t.is(order[0], "invalidate 1 valid", "something touched slot 1 before its otadata entry was invalidated");
	t.true(order.slice(1).every((line) => line.endsWith("undefined")));
	t.like(rig.flash.slots[1], { state: "undefined", seq: 0 });
	// with the running slot's entry lost too, nothing boots slot 1's half-written bytes as valid
	rig.flash.slots[0]!.state = "undefined";
	t.throws(() => rig.flash.boot("power-on"), { message: /bricked: no bootable slot/ });
});

test("an image that runs outside its trial without having passed one (its otadata entry is not the activation's) is tried before it is confirmed", async (t) => {
	const rig = new Rig();
	await activateV2(rig);
	// the bootloader reached slot 1 through an entry that says VALID (the activation's NEW entry was lost)
	rig.flash.boot("power-on");
	rig.flash.slots[1]!.state = "valid";
	rig.version = "2.0.0";
	const failing = rig.client({ selfTest: [{ name: "sensor", run: () => { throw new Error("out of range"); } }] });
	await t.throwsAsync(failing.boot(), { instanceOf: Reboot });
	t.truthy(rig.events.find((event) => event.type === "untried" && event.stage === "activated"));
	t.false(rig.events.some((event) => event.type === "valid"), "confirmed without a passing trial");
	t.is(rig.store.get("seq"), undefined, "the sequence was raised for an image that failed its trial");
	t.is(rig.flash.slots[1]!.state as string, "invalid");
});

test("a trial that fails only its update-server check (a forged manifest served during the trial) is tried again once the server is sound", async (t) => {
	const rig = new Rig();
	const manifest = rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 1 });
	t.is(await rig.check(), "reboot");
	rig.reset("2.0.0");
	// the server now answers with a body of 3,900 unclosed brackets and an all-zero signature
	const forged = new Uint8Array(14 + 3900 + 64);
	forged.set([0x58, 0x46, 0x4d, 0x32], 0);
	forged.set(Buffer.from(rig.key.keyId, "hex"), 4);
	forged[12] = 3900 >> 8;
	forged[13] = 3900 & 0xff;
	forged.fill(0x5b, 14, 14 + 3900);
	rig.server.put("/v1/products/demo-board/manifest", forged);
	await t.throwsAsync(rig.client().boot(), { instanceOf: Reboot });
	rig.reset("1.0.0");
	const outcome: any = await rig.client().boot();
	t.like(outcome, { state: "interrupted", version: "2.0.0", reason: "server-check-failed" });
	t.regex(rig.server.reports.at(-1).error, /^server-check-failed: selftest-failed: update-server: bad-signature/);
	t.is(rig.store.get("failseq"), undefined, "a good release was skipped for the server's fault");
	t.like(await rig.check(), { result: "rejected", reason: "bad-signature" }, "the old image activated against a forged manifest");
	rig.server.put("/v1/products/demo-board/manifest", manifest);
	await finishesFromTheSlot(t, rig);
});

test(`an image whose update-server check fails ${MAX_INTERRUPTED + 1} times while the old image finds the server sound is given up`, async (t) => {
	const rig = new Rig();
	await activateV2(rig);
	for (let round = 1; round <= MAX_INTERRUPTED + 1; round++) {
		rig.reset("2.0.0");
		// the new image cannot reach the server (its network stack is broken); the old one can
		rig.server.faults.unreachable = true;
		await t.throwsAsync(rig.client().boot(), { instanceOf: Reboot });
		rig.server.faults.unreachable = false;
		rig.reset("1.0.0");
		const outcome: any = await rig.client().boot();
		if (round <= MAX_INTERRUPTED) {
			t.like(outcome, { state: "interrupted", reason: "server-check-failed" }, `round ${round}`);
			t.is(await rig.check(), "reboot", `round ${round}: not activated again`);
		}
		else {
			t.is(outcome.state, "rolled-back");
			t.regex(outcome.reason, /^selftest-failed: update-server: /);
			t.like(await rig.check(), { result: "none", why: "previously-failed" });
		}
	}
});

test("an outcome the server did not take is sent again: at the next check, and at the next start", async (t) => {
	const rig = new Rig();
	await activateV2(rig);
	rig.reset("2.0.0");
	rig.server.faults.reportStatus = 503; // the server is overloaded when v2 says it is valid
	t.like(await rig.client().boot(), { state: "confirmed", version: "2.0.0" });
	t.false(rig.server.reports.some((report) => report.state === "valid"));
	t.like(JSON.parse(rig.store.get("last") as string), { state: "valid", version: "2.0.0", unreported: true });
	t.like(await rig.check(), { result: "none" }); // still overloaded: kept for later
	t.false(rig.server.reports.some((report) => report.state === "valid"));
	rig.server.faults.reportStatus = undefined;
	await rig.check();
	t.like(rig.server.reports.filter((report) => report.state === "valid"), [{ version: "2.0.0" }]);
	t.is(JSON.parse(rig.store.get("last") as string).unreported, undefined);
	await rig.check();
	t.is(rig.server.reports.filter((report) => report.state === "valid").length, 1, "sent again once the server had it");
	// and at a start: a reset between confirming and reporting
	rig.store.set("last", JSON.stringify({ state: "valid", version: "2.0.0", unreported: true }));
	rig.reset("2.0.0");
	t.like(await rig.client().boot(), { state: "running" });
	t.is(rig.server.reports.filter((report) => report.state === "valid").length, 2);
	t.truthy(rig.events.find((event) => event.type === "report-again"));
});
