// Configuration over the air through the management server (issue 12), over real HTTPS with device certificates:
// signed config documents uploaded through the admin API and checked before they are kept (forged, signed with a
// firmware key, replayed, malformed: each refused with its reason and nothing kept), the pending hint on manifest
// answers of every status, the document fetched only by its own device, reports of config states kept as the
// device's config, history, failures and last known good config, and a device on its factory copy given its last
// good document back.
import test from "ava";
import { join } from "node:path";
import { call, serve, type Served } from "./lib/https-fixture.js";
import { bytes, makeKey, signRelease, type SigningKey } from "./lib/release.js";
import { signConfigDoc } from "../../tools/release/config-doc.js";
import { publishRelease } from "../../tools/server/publish.js";
import { acceptConfigDoc } from "../../tools/server/configs.js";
import { nodeVerify } from "../../tools/cli/verifier.js";
import { nodeSha256 } from "../../tools/cli/keys.js";
import { adminPaths, type ConfigDocView, type DeviceConfigView } from "../../tools/server/admin-api.js";
import { CONFIG_HEADER, CONFIG_PENDING_HEADER, configPath, manifestPath, reportPath } from "../../modules/fota/protocol.js";
import { openConfigDoc } from "../../modules/fota/config-doc.js";
import { parseDeviceConfig } from "../../modules/fota/config.js";
import { toHex } from "../../modules/fota/hex.js";

interface Fleet { served: Served; token: string; firmware: SigningKey; config: SigningKey }

/** A server with product "demo", a firmware key and a config key, and a token. */
async function fleet(image?: Uint8Array): Promise<Fleet> {
	const served = await serve(image, { rolloutTickMs: 0 });
	const firmware = makeKey(), config = makeKey();
	await served.store.addKey("demo", firmware.keyId, toHex(firmware.publicKey));
	await served.store.addKey("demo", config.keyId, toHex(config.publicKey), "config");
	const { token } = await served.store.createToken("casey", new Date());
	return { served, token, firmware, config };
}

function settings(f: Fleet, extra: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		server: "https://fota.example", ca: f.served.caPem, keys: [{ keyId: f.firmware.keyId, publicKey: toHex(f.firmware.publicKey) }],
		configKeys: [{ keyId: f.config.keyId, publicKey: toHex(f.config.publicKey) }], ...extra,
	};
}

function doc(f: Fleet, sequence: number, options: { devices?: string[]; key?: SigningKey; product?: string; extra?: Record<string, unknown> } = {}): Uint8Array {
	return signConfigDoc({ product: options.product ?? "demo", ...(options.devices ? { devices: options.devices } : {}), sequence, settings: settings(f, options.extra) },
		options.key ?? f.config, nodeVerify, nodeSha256);
}

function upload(f: Fleet, bytes: Uint8Array, staged?: boolean) {
	return call(f.served, "POST", adminPaths.configs(), { token: f.token, json: { document: Buffer.from(bytes).toString("base64"), ...(staged !== undefined ? { staged } : {}) } });
}

function check(f: Fleet, device: string, sequence?: number) {
	return call(f.served, "GET", manifestPath("demo"), { device, headers: { "x-fota-version": "1.0.0", ...(sequence !== undefined ? { [CONFIG_HEADER]: String(sequence) } : {}) } });
}

function report(f: Fleet, device: string, fields: Record<string, unknown>) {
	return call(f.served, "POST", reportPath(device), { device, json: { product: "demo", version: "1.0.0", state: "valid", ...fields } });
}

const configOf = (sequence: number, source = "working", extra: Record<string, unknown> = {}) =>
	({ sha256: (sequence.toString(16) + (source === "factory" ? "f" : "a")).padEnd(64, "0"), fields: { pollSeconds: 60 + sequence, server: "https://fota.example" }, sequence, source, ...extra });

async function view(f: Fleet, device: string): Promise<DeviceConfigView> {
	const got = await call(f.served, "GET", adminPaths.deviceConfig(device), { token: f.token });
	if (got.status !== 200)
		throw new Error(`reading ${device}'s config: ${got.status} ${JSON.stringify(got.body)}`);
	return got.body;
}

test("a document is kept, hinted on every manifest answer, fetched by its device, and kept as good once valid", async (t) => {
	const f = await fleet(bytes(2000, 3));
	t.teardown(() => f.served.close());
	const one = doc(f, 1);
	const uploaded = await upload(f, one);
	t.is(uploaded.status, 201, JSON.stringify(uploaded.body));
	t.like(uploaded.body as ConfigDocView, { product: "demo", sequence: 1, devices: null, staged: false, keyId: f.config.keyId, createdBy: "casey" });
	t.deepEqual((uploaded.body as ConfigDocView).settings.sort(), ["ca", "configKeys", "keys", "server"]);
	// the hint, on a 200 (a release exists)
	const polled = await check(f, "unit-1", 0);
	t.is(polled.status, 200);
	t.is(polled.headers[CONFIG_PENDING_HEADER], "1");
	t.is((await check(f, "unit-1", 1)).headers[CONFIG_PENDING_HEADER], undefined, "nothing newer than what it runs");
	t.is((await check(f, "unit-1")).headers[CONFIG_PENDING_HEADER], undefined, "a device that names no config is not told");
	// the document, exactly as signed, and a device opens it with the config key it trusts
	const fetched = await call(f.served, "GET", configPath("unit-1"), { device: "unit-1", headers: { [CONFIG_HEADER]: "0" } });
	t.is(fetched.status, 200);
	t.is(fetched.headers["content-type"], "application/octet-stream");
	t.deepEqual(new Uint8Array(fetched.body), one);
	const factory = parseDeviceConfig({ deviceId: "unit-1", product: "demo", ...settings(f) }, nodeSha256);
	const opened = openConfigDoc(new Uint8Array(fetched.body), { config: factory, raw: { deviceId: "unit-1", product: "demo", ...settings(f) }, sequence: 0, failedSequence: 0 }, nodeVerify, nodeSha256);
	t.true(opened.ok, JSON.stringify(opened));
	// the device tries it and keeps it
	t.is((await report(f, "unit-1", { state: "config-trying", configTarget: 1, config: configOf(0) })).status, 204);
	t.is((await report(f, "unit-1", { state: "config-valid", configTarget: 1, config: configOf(1) })).status, 204);
	t.is((await call(f.served, "GET", configPath("unit-1"), { device: "unit-1" })).status, 204, "nothing pending once it runs 1");
	const shown = await view(f, "unit-1");
	t.like(shown, { current: { sequence: 1, source: "working", sha256: configOf(1).sha256 }, lastKnownGood: { sequence: 1, sha256: configOf(1).sha256, fields: configOf(1).fields }, pending: null, failed: [] });
	t.deepEqual(shown.history.map((entry) => [entry.state, entry.sequence, entry.target]),
		[["config-valid", 1, 1], ["config", 1, null], ["config-trying", 0, 1], ["config", 0, null]]);
	const listed = await call(f.served, "GET", `${adminPaths.devices()}?search=unit-1`, { token: f.token });
	t.like(listed.body[0], { deviceId: "unit-1", configSequence: 1, configSource: "working", configPending: null });
});

test("the pending hint is on a 404 answer too, and on a 503 outside a rollout's window", async (t) => {
	const f = await fleet(); // no release: the manifest answer is 404
	t.teardown(() => f.served.close());
	t.is((await upload(f, doc(f, 3))).status, 201);
	const polled = await check(f, "unit-2", 0);
	t.is(polled.status, 404);
	t.is(polled.headers[CONFIG_PENDING_HEADER], "3");
	// a staged release in a rollout whose window is closed now: 503 + Retry-After, the hint still there
	const image = bytes(1500, 9);
	const manifest = signRelease(image, { product: "demo", version: "2.0.0", sequence: 2, securityVersion: 1, url: "2.bin" }, f.firmware);
	t.true((await publishRelease(f.served.store, join(f.served.dir, "images"), "demo", manifest, image, new Date(), { staged: true })).ok);
	const hour = (new Date().getUTCHours() + 12) % 24;
	const created = await call(f.served, "POST", adminPaths.rollouts(), { token: f.token, json: { product: "demo", version: "2.0.0", stages: [1],
		windows: [{ cron: `0 ${hour} * * *`, durationMinutes: 60, timeZone: "UTC" }] } });
	t.is(created.status, 201, JSON.stringify(created.body));
	const waited = await check(f, "unit-2", 0);
	t.is(waited.status, 503);
	t.is(waited.headers[CONFIG_PENDING_HEADER], "3");
	t.is((await check(f, "unit-2", "x" as never)).headers[CONFIG_PENDING_HEADER], undefined, "a header that is not a sequence is not taken");
});

test("attack: a device fetching another device's document is refused, and a document for one device is given to it alone", async (t) => {
	const f = await fleet();
	t.teardown(() => f.served.close());
	const mine = doc(f, 5, { devices: ["alice"] });
	t.is((await upload(f, mine)).status, 201);
	await check(f, "alice", 0);
	await check(f, "mallory", 0);
	const stolen = await call(f.served, "GET", configPath("alice"), { device: "mallory" });
	t.is(stolen.status, 403);
	t.like(stolen.body, { error: "not-yourself" });
	t.false(Buffer.from(JSON.stringify(stolen.body)).includes(Buffer.from(mine.subarray(14, 40))), "no part of the document in the refusal");
	t.is((await call(f.served, "GET", configPath("mallory"), { device: "mallory" })).status, 204, "not for mallory");
	t.is((await check(f, "mallory", 0)).headers[CONFIG_PENDING_HEADER], undefined);
	const own = await call(f.served, "GET", configPath("alice"), { device: "alice" });
	t.is(own.status, 200);
	t.deepEqual(new Uint8Array(own.body), mine);
	const anonymous = await call(f.served, "GET", configPath("alice"));
	t.is(anonymous.status, 401, "no certificate, no document");
});

test("attack: forged, firmware-key-signed, unknown-key, malformed, replayed and foreign documents are refused, nothing kept", async (t) => {
	const f = await fleet();
	t.teardown(() => f.served.close());
	await f.served.store.addProduct("other", new Date());
	const before = await f.served.store.configDocs("demo");
	const forged = doc(f, 2);
	forged[forged.length - 20]! ^= 0x01; // the signature no longer verifies
	const refusals: [string, Uint8Array, number, string][] = [
		["forged", forged, 422, "bad-signature"],
		["signed with the firmware key", doc(f, 2, { key: f.firmware }), 422, "wrong-key-role"],
		["signed with a key the product does not trust", doc(f, 2, { key: makeKey() }), 422, "unknown-key"],
		["not a config document", new Uint8Array(200).fill(7), 422, "malformed"],
		["a manifest", signRelease(bytes(10, 1), { product: "demo", version: "9", sequence: 9 }, f.firmware), 422, "malformed"],
		["for a product the server does not know", doc(f, 2, { product: "ghost" }), 404, "unknown-product"],
		["for a product without a config key", doc(f, 2, { product: "other" }), 422, "no-config-keys"],
	];
	for (const [what, bytes, status, reason] of refusals) {
		const refused = await upload(f, bytes);
		t.is(refused.status, status, `${what}: ${JSON.stringify(refused.body)}`);
		t.is(refused.body.error, reason, what);
		t.regex(refused.body.detail, /config document/, `${what}: the detail names the operation`);
	}
	t.deepEqual(await f.served.store.configDocs("demo"), before, "nothing kept");
	// replay: the same document again, and another document reusing its sequence
	const two = doc(f, 2);
	t.is((await upload(f, two)).status, 201);
	const replayed = await upload(f, two);
	t.is(replayed.status, 409);
	t.is(replayed.body.error, "sequence-used");
	const reused = await upload(f, doc(f, 2, { extra: { pollSeconds: 5 } }));
	t.is(reused.status, 409);
	const kept = await f.served.store.configDocs("demo");
	t.is(kept.length, 1);
	t.deepEqual(kept[0]!.bytes, two, "the first document of sequence 2 stays");
	// acceptConfigDoc, as the demo's world calls it, refuses alike
	t.like(await acceptConfigDoc(f.served.store, doc(f, 3, { key: f.firmware })), { ok: false, reason: "wrong-key-role" });
	t.like(await acceptConfigDoc(f.served.store, doc(f, 3), { by: "world" }), { ok: true, product: "demo", sequence: 3 });
	// bad uploads
	t.is((await call(f.served, "POST", adminPaths.configs(), { token: f.token, json: { document: "not base64!" } })).status, 400);
	t.is((await call(f.served, "POST", adminPaths.configs(), { token: f.token, json: { document: Buffer.from(two).toString("base64"), staged: "yes" } })).status, 400);
	t.is((await call(f.served, "POST", adminPaths.configs(), { json: { document: Buffer.from(two).toString("base64") } })).status, 401, "no token");
});

test("a config key signs no release, and a firmware key is not taken for a config key", async (t) => {
	const f = await fleet();
	t.teardown(() => f.served.close());
	const image = bytes(1200, 4);
	const byConfigKey = signRelease(image, { product: "demo", version: "1.0.0", sequence: 1, url: "1.bin" }, f.config);
	const published = await publishRelease(f.served.store, join(f.served.dir, "images"), "demo", byConfigKey, image);
	t.false(published.ok);
	t.like(published, { error: "manifest" });
	const keys = await call(f.served, "GET", "/v1/admin/products/demo/keys", { token: f.token });
	t.deepEqual(keys.body.map((key: { keyId: string; role: string }) => [key.keyId, key.role]).sort(),
		[[f.firmware.keyId, "firmware"], [f.config.keyId, "config"]].sort());
	// the same key cannot take a second role
	const again = await call(f.served, "POST", "/v1/admin/products/demo/keys", { token: f.token, json: { publicKey: toHex(f.firmware.publicKey), role: "config" } });
	t.is(again.status, 409);
	const badRole = await call(f.served, "POST", "/v1/admin/products/demo/keys", { token: f.token, json: { publicKey: toHex(makeKey().publicKey), role: "admin" } });
	t.is(badRole.status, 400);
});

test("restore: a device on its factory copy is given its last good document back; a failed document is never given again", async (t) => {
	const f = await fleet();
	t.teardown(() => f.served.close());
	t.is((await upload(f, doc(f, 1))).status, 201);
	await check(f, "unit-3", 0);
	await report(f, "unit-3", { state: "config-valid", configTarget: 1, config: configOf(1) });
	// a document whose trial fails: rolled back to 1, with the reason
	t.is((await upload(f, doc(f, 2, { extra: { server: "https://nowhere.example" } }))).status, 201);
	t.is((await check(f, "unit-3", 1)).headers[CONFIG_PENDING_HEADER], "2");
	await report(f, "unit-3", { state: "config-trying", configTarget: 2, config: configOf(1) });
	const why = "config-selftest-failed: update-server: connect ENOTFOUND nowhere.example";
	t.is((await report(f, "unit-3", { state: "config-rolled-back", configTarget: 2, error: why, config: configOf(1) })).status, 204);
	t.is((await check(f, "unit-3", 1)).headers[CONFIG_PENDING_HEADER], undefined, "2 failed here: not offered again");
	let shown = await view(f, "unit-3");
	t.like(shown, { lastKnownGood: { sequence: 1 }, pending: null });
	t.like(shown.failed, [{ sequence: 2, state: "config-rolled-back", reason: why }]);
	t.like(shown.history[0], { state: "config-rolled-back", target: 2, sequence: 1, error: why });
	// both working copies lost: it runs its factory copy, says so, and is given document 1 again
	t.is((await report(f, "unit-3", { state: "valid", config: configOf(0, "factory", { lost: ["working-0", "working-1"] }) })).status, 204);
	shown = await view(f, "unit-3");
	t.like(shown, { current: { sequence: 0, source: "factory", lost: ["working-0", "working-1"] }, lastKnownGood: { sequence: 1 }, pending: { sequence: 1 } });
	t.like(shown.history[0], { state: "config", source: "factory", error: "lost: working-0, working-1" });
	t.is((await check(f, "unit-3", 0)).headers[CONFIG_PENDING_HEADER], "1");
	const restored = await call(f.served, "GET", configPath("unit-3"), { device: "unit-3" });
	t.is(restored.status, 200);
	t.deepEqual(new Uint8Array(restored.body), (await f.served.store.configDocs("demo")).find((row) => row.sequence === 1)!.bytes);
	const listed = await call(f.served, "GET", `${adminPaths.devices()}?search=unit-3`, { token: f.token });
	t.like(listed.body[0], { configSequence: 0, configSource: "factory", configPending: 1 });
});

test("a staged document is given to no device without a config rollout, and through one to the devices it offers it to", async (t) => {
	const f = await fleet();
	t.teardown(() => f.served.close());
	t.is((await upload(f, doc(f, 1))).status, 201);
	const staged = await upload(f, doc(f, 2), true);
	t.is(staged.status, 201);
	t.true(staged.body.staged);
	t.is((await check(f, "unit-4", 0)).headers[CONFIG_PENDING_HEADER], "1", "the newest one for everyone");
	t.is((await check(f, "unit-4", 1)).headers[CONFIG_PENDING_HEADER], undefined);
	const listed = await call(f.served, "GET", `${adminPaths.configs()}?product=demo`, { token: f.token });
	t.deepEqual(listed.body.map((entry: ConfigDocView) => [entry.sequence, entry.staged]), [[2, true], [1, false]]);
	t.is((await call(f.served, "GET", configPath("unit-4"), { device: "unit-4", headers: { [CONFIG_HEADER]: "1" } })).status, 204);
	// a config rollout of it, through the admin API: now the device is given it, and its report settles the rollout
	const created = await call(f.served, "POST", adminPaths.rollouts(), { token: f.token, json: { product: "demo", config: 2, stages: [1], thresholds: { minDevices: 1 } } });
	t.is(created.status, 201, JSON.stringify(created.body));
	t.like(created.body, { kind: "config", version: "config 2", state: "running" });
	t.is((await check(f, "unit-4", 1)).headers[CONFIG_PENDING_HEADER], "2");
	const fetched = await call(f.served, "GET", configPath("unit-4"), { device: "unit-4", headers: { [CONFIG_HEADER]: "1" } });
	t.is(fetched.status, 200);
	t.deepEqual(new Uint8Array(fetched.body), (await f.served.store.configDocs("demo", 1))[0]!.bytes);
	t.is((await report(f, "unit-4", { state: "config-valid", configTarget: 2, config: configOf(2) })).status, 204);
	const shown = await call(f.served, "GET", adminPaths.rollout(created.body.id), { token: f.token });
	t.like(shown.body, { totals: { succeeded: 1, failed: 0 } });
	const bad = await call(f.served, "POST", adminPaths.rollouts(), { token: f.token, json: { product: "demo", config: 1 } });
	t.is(bad.status, 409);
	t.is(bad.body.error, "not-staged");
});

test("config reports are validated field by field", async (t) => {
	const f = await fleet();
	t.teardown(() => f.served.close());
	const bad: [Record<string, unknown>, RegExp][] = [
		[{ state: "config-valid" }, /configTarget is needed/],
		[{ state: "config-valid", configTarget: 0 }, /configTarget must be/],
		[{ state: "config-valid", configTarget: 1.5 }, /configTarget must be/],
		[{ config: { ...configOf(1), source: "usb" } }, /config.source must be/],
		[{ config: { ...configOf(1), sequence: -1 } }, /config.sequence must be/],
		[{ config: { ...configOf(1), lost: ["../x"] } }, /config.lost must/],
		[{ config: { ...configOf(1), lost: Array.from({ length: 9 }, (_, i) => `working-${i}`) } }, /config.lost must/],
	];
	for (const [fields, detail] of bad) {
		const refused = await report(f, "unit-5", fields);
		t.is(refused.status, 400, JSON.stringify(fields));
		t.regex(refused.body.detail, detail);
	}
	t.is(await f.served.store.deviceConfig("unit-5"), undefined, "nothing kept");
	t.is(await f.served.store.device("unit-5"), undefined, "nothing kept");
	// a member of config the server does not know is dropped, not stored and not refused (a newer client)
	t.is((await report(f, "unit-5", { config: { ...configOf(1), secret: "x" } })).status, 204);
	t.false(JSON.stringify(await f.served.store.deviceConfig("unit-5")).includes("secret"));
	// an old client's config, without sequence nor source, is still taken (the sequence and source on record stay)
	t.is((await report(f, "unit-6", { config: { sha256: "ab".repeat(32), fields: { pollSeconds: 10 } } })).status, 204);
	t.like(await f.served.store.deviceConfig("unit-6"), { sequence: null, source: null, sha256: "ab".repeat(32) });
	t.is((await report(f, "unit-5", { config: { sha256: "ab".repeat(32), fields: { pollSeconds: 10 } } })).status, 204);
	t.like(await f.served.store.deviceConfig("unit-5"), { sequence: 1, source: "working", sha256: "ab".repeat(32) });
});
