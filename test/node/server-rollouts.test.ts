// Rollouts through the management server over real HTTPS: devices with mutual TLS get the manifest their stage
// allows (a staged release's image only if offered), are told to wait outside a maintenance window (503 +
// Retry-After), and their reports settle their offers; administrators create, read and steer rollouts and read the
// fleet summary and device search with a token, and bad requests are refused with clear errors.
import test from "ava";
import { join } from "node:path";
import { call, serve, type Served } from "./lib/https-fixture.js";
import { bytes, makeKey, signRelease, type SigningKey } from "./lib/release.js";
import { publishRelease } from "../../tools/server/publish.js";
import { stageOf } from "../../tools/server/rollout.js";
import { adminPaths, type FleetSummary, type RolloutView } from "../../tools/server/admin-api.js";
import { toHex } from "../../modules/fota/hex.js";

const IMAGE_1 = bytes(3000, 1), IMAGE_2 = bytes(3000, 2);
const DEVICES = Array.from({ length: 30 }, (_, i) => `unit-${i}`);

async function fleet(clock: { ms: number }): Promise<{ served: Served; token: string; key: SigningKey; manifests: Map<string, Buffer> }> {
	const served = await serve(undefined, { now: () => clock.ms, rolloutTickMs: 0 });
	const key = makeKey();
	await served.store.addKey("demo", key.keyId, toHex(key.publicKey));
	const manifests = new Map<string, Buffer>();
	for (const [version, sequence, image, staged] of [["1.0.0", 1, IMAGE_1, false], ["2.0.0", 2, IMAGE_2, true]] as const) {
		const manifest = signRelease(image, { product: "demo", version, sequence, securityVersion: 1, url: `${version}.bin` }, key);
		const published = await publishRelease(served.store, join(served.dir, "images"), "demo", manifest, image, new Date(), { staged });
		if (!published.ok)
			throw new Error(published.detail);
		manifests.set(version, Buffer.from(manifest));
	}
	for (const id of DEVICES)
		await served.store.recordReport({ deviceId: id, product: "demo", version: "1.0.0", state: "valid" }, new Date(), 100);
	const { token } = await served.store.createToken("dana", new Date());
	return { served, token, key, manifests };
}

const stages = [0.2, 1];
const firstStage = DEVICES.filter((id) => stageOf("demo\n2", id, stages) === 0);

test("devices get the manifest their stage allows, and a staged image only when offered it", async (t) => {
	const clock = { ms: Date.now() };
	const { served, token, manifests } = await fleet(clock);
	t.teardown(() => served.close());
	const created = await call(served, "POST", adminPaths.rollouts(), { token, json: { product: "demo", version: "2.0.0", stages, thresholds: { success: 1, minDevices: 1 } } });
	t.is(created.status, 201, JSON.stringify(created.body));
	const view = created.body as RolloutView;
	t.is(view.state, "running");
	const inside = firstStage[0]!, outside = DEVICES.find((id) => !firstStage.includes(id))!;
	const got = await call(served, "GET", "/v1/products/demo/manifest", { device: inside });
	t.is(got.status, 200);
	t.deepEqual(got.body, manifests.get("2.0.0"));
	const kept = await call(served, "GET", "/v1/products/demo/manifest", { device: outside });
	t.deepEqual(kept.body, manifests.get("1.0.0"));
	t.is((await call(served, "GET", "/v1/products/demo/2.0.0.bin", { device: inside })).status, 200);
	const refused = await call(served, "GET", "/v1/products/demo/2.0.0.bin", { device: outside });
	t.is(refused.status, 404, "a device that was not offered the staged release cannot fetch its image");
	t.is((await call(served, "GET", "/v1/products/demo/1.0.0.bin", { device: outside })).status, 200);
	// the device's reports settle its offer; the admin API shows it
	const report = (id: string, body: object) => call(served, "POST", `/v1/devices/${id}/report`, { device: id, json: { product: "demo", ...body } });
	t.is((await report(inside, { version: "1.0.0", state: "rolled-back", target: "2.0.0", error: "selftest-failed: no sensor" })).status, 204);
	const shown = (await call(served, "GET", adminPaths.rollout(view.id), { token })).body as RolloutView;
	t.like(shown.stages[0], { failed: 1, opened: true });
	t.deepEqual(shown.failures, [{ reason: "selftest-failed", count: 1 }]);
	t.deepEqual(shown.events!.map((event) => event.state), ["running"]);
	await served.server.rollouts.tick();
	const halted = (await call(served, "GET", adminPaths.rollout(view.id), { token })).body as RolloutView;
	t.is(halted.state, "halted");
	t.regex(halted.cause, /^halted: 1 of 1 failed \(100\.0% > 5\.0%\) in stage 1: 1 selftest-failed$/);
	// the actions, with the token's name in the cause; a wrong state is refused
	const aborted = await call(served, "POST", adminPaths.rolloutAction(view.id, "abort"), { token });
	t.is(aborted.status, 200);
	t.regex((aborted.body as RolloutView).cause, /^aborted by dana/);
	const again = await call(served, "POST", adminPaths.rolloutAction(view.id, "pause"), { token });
	t.is(again.status, 409);
	t.is(again.body.error, "bad-state");
	const list = (await call(served, "GET", `${adminPaths.rollouts()}?product=demo`, { token })).body as RolloutView[];
	t.deepEqual(list.map((rollout) => [rollout.id, rollout.state]), [[view.id, "aborted"]]);
});

test("a device is known from its first manifest request, with the version it names; a rollout by version targets it", async (t) => {
	const clock = { ms: Date.now() };
	const { served, token, manifests } = await fleet(clock);
	t.teardown(() => served.close());
	t.is((await call(served, "GET", "/v1/products/demo/manifest", { device: "fresh-1", headers: { "x-fota-version": "0.9.0" } })).status, 200);
	await served.server.recorded(); // a check is committed a moment after its answer
	t.like(await served.store.device("fresh-1"), { product: "demo", version: "0.9.0", state: "checked", reports: 0 });
	t.deepEqual((await served.store.history("fresh-1")).map((entry) => [entry.state, entry.version]), [["checked", "0.9.0"]]);
	// without the header, an unknown device stays unknown (an older client); a bad header is refused
	t.is((await call(served, "GET", "/v1/products/demo/manifest", { device: "fresh-2" })).status, 200);
	await served.server.recorded();
	t.is(await served.store.device("fresh-2"), undefined);
	// a header that is not a version is not taken, and does not cost the device its manifest
	const bad = await call(served, "GET", "/v1/products/demo/manifest", { device: "fresh-3", headers: { "x-fota-version": "x".repeat(129) } });
	t.is(bad.status, 200);
	t.deepEqual(bad.body, manifests.get("1.0.0"));
	await served.server.recorded();
	t.is(await served.store.device("fresh-3"), undefined);
	// a rollout for the devices on 0.9.0 reaches it at its next check, and the fleet's 1.0.0 devices keep 1.0.0
	const created = await call(served, "POST", adminPaths.rollouts(), { token, json: { product: "demo", version: "2.0.0", stages: [1], filter: { versions: ["0.9.0"] } } });
	t.is((created.body as RolloutView).totals.devices, 1);
	t.deepEqual((await call(served, "GET", "/v1/products/demo/manifest", { device: "fresh-1", headers: { "x-fota-version": "0.9.0" } })).body, manifests.get("2.0.0"));
	t.deepEqual((await call(served, "GET", "/v1/products/demo/manifest", { device: DEVICES[0], headers: { "x-fota-version": "1.0.0" } })).body, manifests.get("1.0.0"));
	await served.server.recorded();
	t.like(await served.store.device(DEVICES[0]!), { version: "1.0.0", state: "valid" }, "a check does not change a known device's state");
});

test("outside a maintenance window a device is told when to come back", async (t) => {
	const clock = { ms: Date.UTC(2026, 11, 4, 12, 0, 0) };
	const { served, token } = await fleet(clock);
	t.teardown(() => served.close());
	const created = await call(served, "POST", adminPaths.rollouts(), { token, json: { product: "demo", version: "2.0.0", stages: [1], windows: [{ cron: "30 12 * * *", durationMinutes: 30, timeZone: "UTC" }] } });
	t.is(created.status, 201);
	const waiting = await call(served, "GET", "/v1/products/demo/manifest", { device: DEVICES[0] });
	t.is(waiting.status, 503);
	t.is(waiting.headers["retry-after"], "1800");
	t.is(waiting.body.error, "maintenance-window");
	t.regex(waiting.body.detail, /the next opens at 2026-12-04T12:30:00.000Z/);
	clock.ms += 1800_000;
	t.is((await call(served, "GET", "/v1/products/demo/manifest", { device: DEVICES[0] })).status, 200);
});

test("the admin API: fleet summary, device search, and clear refusals", async (t) => {
	const clock = { ms: Date.now() };
	const { served, token } = await fleet(clock);
	t.teardown(() => served.close());
	await served.store.recordReport({ deviceId: "unit-7", product: "demo", version: "1.0.0", state: "rolled-back", error: "selftest-failed: 100% humidity_sensor" }, new Date(), 100);
	const summary = (await call(served, "GET", adminPaths.fleet(), { token })).body as FleetSummary;
	t.deepEqual(summary, { devices: 30, products: [{ product: "demo", devices: 30, versions: { "1.0.0": 30 }, states: { valid: 29, "rolled-back": 1 } }] });
	const search = async (text: string) => ((await call(served, "GET", `${adminPaths.devices()}?search=${encodeURIComponent(text)}`, { token })).body as { deviceId: string }[]).map((device) => device.deviceId);
	t.deepEqual(await search("UNIT-2"), ["unit-2", "unit-20", "unit-21", "unit-22", "unit-23", "unit-24", "unit-25", "unit-26", "unit-27", "unit-28", "unit-29"]);
	t.deepEqual(await search("humidity_s"), ["unit-7"], "the last error is searched");
	t.deepEqual(await search("100%"), ["unit-7"], "% is a character, not a wildcard");
	t.deepEqual(await search("_"), ["unit-7"], "_ is a character, not a wildcard");
	t.is((await call(served, "GET", adminPaths.fleet())).status, 401);
	t.is((await call(served, "GET", adminPaths.rollouts(), { token: "wrong" })).status, 401);
	const bad = await call(served, "POST", adminPaths.rollouts(), { token, json: { product: "demo", version: "2.0.0", stages: [2] } });
	t.is(bad.status, 400);
	t.is(bad.body.error, "bad-rollout");
	t.is((await call(served, "POST", adminPaths.rollouts(), { token, json: { product: "demo", version: "1.0.0" } })).body.error, "not-staged");
	t.is((await call(served, "GET", `${adminPaths.rollouts()}/0`, { token })).status, 400);
	t.is((await call(served, "GET", adminPaths.rollout(99), { token })).status, 404);
	t.is((await call(served, "POST", adminPaths.rolloutAction(99, "pause"), { token })).status, 404);
	t.is((await call(served, "POST", `${adminPaths.rollout(1)}/explode`, { token })).status, 404);
	// a device cannot use the admin API with its certificate alone
	t.is((await call(served, "GET", adminPaths.rollouts(), { device: DEVICES[0] })).status, 401);
});
