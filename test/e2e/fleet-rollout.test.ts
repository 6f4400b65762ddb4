// A staged rollout end to end on loopback: 1,000 virtual devices (tools/fleet: the real client over in-memory flash,
// HTTPS with mutual TLS, each its own certificate) in stages of 1%, 10%, 50% and 100%.
//   With 20% of the devices failing their trial, the rollout halts itself in the first stage where its error
//   threshold is crossed (predicted here from the devices' stages and behaviours, both stable hashes), no device
//   outside the opened stages ever receives the release's manifest, and the fleet page shows the halt and its cause.
//   With no failures, the same rollout completes and every device runs the release.
// A stage opens only when all of its devices succeeded (success 100%), so a failing device holds its stage open
// until the error threshold halts the rollout: the stage of the halt does not depend on the order of the reports.
import test, { type ExecutionContext } from "ava";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { PRODUCT, World } from "../../tools/demo/world.js";
import { behaviourOf, startFleet, type Fleet } from "../../tools/fleet/fleet.js";
import { fleetImage } from "../../tools/fleet/image.js";
import { stageOf } from "../../tools/server/rollout.js";
import type { RolloutView } from "../../tools/server/admin-api.js";

const COUNT = 1000;
const STAGES = [0.01, 0.1, 0.5, 1];
const SEED = `${PRODUCT}\n2`;
const THRESHOLDS = { success: 1, error: 0.05, minDevices: 5, soakSeconds: 0, timeoutSeconds: 300 };

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
	const deadline = Date.now() + ms;
	for (;;) {
		const value = await probe();
		if (value !== undefined)
			return value;
		if (Date.now() > deadline)
			throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
}

/** A world, the staged release, and 1,000 devices that have all checked in once (the server knows each, and its version). */
async function setUp(t: ExecutionContext, failShare: number): Promise<{ w: World; fleet: Fleet }> {
	const w = new World(mkdtempSync(join(tmpdir(), "xs-fota-fleet-rollout-")));
	await w.start();
	await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: fleetImage("2.0.0", 8 * 1024) }, { staged: true });
	const fleet = await startFleet({
		server: w.url, serverCa: readFileSync(w.certs.ca, "utf8"), deviceCa: w.deviceCa, product: PRODUCT, count: COUNT, version: "1.0.0",
		keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 8, jitter: 0.5, failShare, seed: 1,
		config: { timeoutSeconds: 20, requestDeadlineSeconds: 60, reportDeadlineSeconds: 30, backoffSeconds: 1, maxBackoffSeconds: 8 },
	});
	t.teardown(async () => {
		await fleet.stop();
		await w.stop();
	});
	await until("every device to check in", 90_000, async () => (await w.store.fleetSummary()).devices >= COUNT ? true : undefined);
	return { w, fleet };
}

/** No device of a stage past `opened` received the release's manifest, on the devices' side and the server's. */
async function onlyOpenedStages(t: ExecutionContext, w: World, fleet: Fleet, rollout: number, opened: number): Promise<void> {
	const outside = fleet.devices.filter((device) => stageOf(SEED, device.id, STAGES) > opened);
	const leaked = outside.filter((device) => device.manifestsSeen.some((seen) => seen.version === "2.0.0")).map((device) => device.id);
	t.deepEqual(leaked, [], "devices of closed stages received the release's manifest");
	t.true(outside.every((device) => device.version === "1.0.0"));
	const offers = await w.store.offers(rollout);
	t.true(offers.every((offer) => offer.stage <= opened && stageOf(SEED, offer.deviceId, STAGES) === offer.stage));
}

test.serial("1,000 devices, 20% failing their trial: the rollout halts in the first stage that crosses its threshold", async (t) => {
	t.timeout(300_000);
	const { w, fleet } = await setUp(t, 0.2);
	// the prediction: the first stage whose devices include a failing one; its share of failures is over 5%
	const stageOfDevice = new Map(fleet.devices.map((device) => [device.id, stageOf(SEED, device.id, STAGES)]));
	const failing = (stage: number) => fleet.devices.filter((device) => stageOfDevice.get(device.id)! <= stage && behaviourOf(device.id, { seed: 1, failShare: 0.2 }) === "fail").length;
	const within = (stage: number) => fleet.devices.filter((device) => stageOfDevice.get(device.id)! <= stage).length;
	const halting = STAGES.findIndex((_, stage) => failing(stage) > 0);
	t.true(halting >= 0 && failing(halting) / within(halting) > THRESHOLDS.error && within(halting) >= THRESHOLDS.minDevices,
		`the seed gives no clear halt (stage ${halting + 1}: ${failing(halting)} of ${within(halting)})`);
	t.log(`predicted: halt in stage ${halting + 1} (${failing(halting)} failing of ${within(halting)} devices in stages 1..${halting + 1})`);

	const created = await w.server.rollouts.create({ product: PRODUCT, version: "2.0.0", stages: STAGES, thresholds: THRESHOLDS });
	const halted = await until("the halt", 200_000, async () => {
		const view = (await w.server.rollouts.view(created.id, true))!;
		t.not(view.state, "complete");
		return view.state === "halted" ? view : undefined;
	});
	t.is(halted.opened, halting, `halted in stage ${halted.opened + 1}, predicted ${halting + 1}: ${halted.cause}`);
	t.regex(halted.cause, new RegExp(`^halted: \\d+ of \\d+ failed \\(\\d+\\.\\d% > 5\\.0%\\) in stage ${halting + 1}: \\d+ selftest-failed$`));
	t.deepEqual(halted.failures.map((failure) => failure.reason), ["selftest-failed"]);
	t.is(halted.events!.filter((event) => event.state === "halted").length, 1);
	// the halt holds: a few more poll intervals, and still no device outside the opened stages has the manifest
	await new Promise((resolve) => setTimeout(resolve, 20_000));
	await onlyOpenedStages(t, w, fleet, created.id, halting);
	const after = (await w.server.rollouts.view(created.id))!;
	t.is(after.state, "halted");
	t.is(after.stages.slice(halting + 1).reduce((sum, stage) => sum + stage.inProgress + stage.succeeded + stage.failed, 0), 0);
	// and failing devices rolled back, on their own
	t.true(fleet.devices.filter((device) => device.behaviour === "fail" && stageOfDevice.get(device.id)! <= halting && device.manifestsSeen.length > 0)
		.every((device) => device.version === "1.0.0"));

	// the fleet page shows the halt and its cause
	const { token } = await w.store.createToken("fleet-rollout-test", new Date());
	const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
	try {
		const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
		await page.goto(`${w.url}/`);
		await page.getByLabel("Admin token", { exact: true }).fill(token);
		await page.getByRole("button", { name: "Open the fleet" }).click();
		await page.getByRole("link", { name: "Rollouts" }).click();
		await page.locator(".card.rollout").first().getByRole("link").click();
		await page.getByRole("heading", { name: new RegExp(`Rollout #${created.id} ${PRODUCT} → 2\\.0\\.0`) }).waitFor({ timeout: 15_000 });
		await page.getByText(after.cause, { exact: true }).first().waitFor({ timeout: 15_000 });
		t.true(await page.getByRole("button", { name: "Resume" }).isVisible());
		const shown = await page.locator("body").innerText();
		t.true(shown.includes(`Stage ${halting + 1}`));
		t.regex(shown, /selftest-failed/);
	} finally {
		await browser.close();
	}
});

test.serial("1,000 devices, none failing: the same rollout completes", async (t) => {
	t.timeout(300_000);
	const { w, fleet } = await setUp(t, 0);
	const created = await w.server.rollouts.create({ product: PRODUCT, version: "2.0.0", stages: STAGES, thresholds: THRESHOLDS });
	const done: RolloutView = await until("the completion", 250_000, async () => {
		const view = (await w.server.rollouts.view(created.id, true))!;
		t.not(view.state, "halted", view.cause);
		return view.state === "complete" ? view : undefined;
	});
	t.is(done.cause, `complete: ${COUNT} succeeded, 0 failed`);
	t.deepEqual(done.events!.map((event) => event.state), ["running", "running", "running", "running", "complete"]);
	t.deepEqual(done.events!.slice(1, 4).map((event) => event.cause.split(":")[0]), ["stage 2 opened", "stage 3 opened", "stage 4 opened"]);
	t.true(fleet.devices.every((device) => device.version === "2.0.0"));
	t.deepEqual((await w.store.fleetSummary()).products[0]!.versions, { "2.0.0": COUNT });
});

test.serial("devices that go silent mid-update count as failed once the timeout passes", async (t) => {
	t.timeout(120_000);
	const w = new World(mkdtempSync(join(tmpdir(), "xs-fota-fleet-timeout-")));
	await w.start();
	await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: fleetImage("2.0.0", 8 * 1024) }, { staged: true });
	const fleet = await startFleet({
		server: w.url, serverCa: readFileSync(w.certs.ca, "utf8"), deviceCa: w.deviceCa, product: PRODUCT, count: 40, version: "1.0.0",
		keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.5, hangShare: 0.25, seed: 3,
	});
	t.teardown(async () => {
		await fleet.stop();
		await w.stop();
	});
	const hanging = fleet.devices.filter((device) => device.behaviour === "hang").map((device) => device.id);
	t.true(hanging.length >= 4, `${hanging.length} hanging devices`);
	await until("every device to check in", 30_000, async () => (await w.store.fleetSummary()).devices >= 40 ? true : undefined);
	const created = await w.server.rollouts.create({ product: PRODUCT, version: "2.0.0", stages: [1], thresholds: { success: 1, error: 0.9, minDevices: 1, timeoutSeconds: 4 } });
	// the others finish; the hanging ones said "downloading" and nothing since: in progress until their timeout
	const silent = await until("the hanging devices to go silent", 40_000, async () => {
		const view = (await w.server.rollouts.view(created.id))!;
		return view.totals.succeeded === 40 - hanging.length && view.totals.inProgress === hanging.length ? view : undefined;
	});
	t.deepEqual(silent.failures, []);
	// the view counts them failed once the timeout passes; the next tick records it in their offers
	const timedOut = await until("the timeout", 30_000, async () => {
		const view = (await w.server.rollouts.view(created.id))!;
		return view.totals.failed === hanging.length ? view : undefined;
	});
	t.deepEqual(timedOut.failures, [{ reason: "timed-out", count: hanging.length }]);
	t.is(timedOut.totals.inProgress, 0);
	const recorded = await until("the offers settled", 10_000, async () => {
		const offers = (await w.store.offers(created.id)).filter((offer) => offer.reason === "timed-out");
		return offers.length === hanging.length ? offers : undefined;
	});
	t.deepEqual(recorded.map((offer) => offer.deviceId).sort(), [...hanging].sort());
	t.true(recorded.every((offer) => offer.status === "failed"));
});
