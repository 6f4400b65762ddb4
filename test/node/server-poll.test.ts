// Conditional manifest requests at the management server (tools/server/server.ts), over real HTTPS with device
// certificates: If-None-Match naming the ETag of the bytes the server would send gets 304 with the ETag and no body;
// a changed manifest, a rollout's other release, a weak or malformed tag get the whole manifest; every other effect
// of a poll (the check in the device's history, the rollout's offer, the config hint) is the same on a 304; HEAD
// still works. The check's record is committed a moment after the answer is out, and the device's next request runs
// it and waits for it, as an admin's request does; so is a "downloading" report's, which the image request that
// follows it does not wait for.
// And the If-None-Match matcher itself.
import test, { type ExecutionContext } from "ava";
import { join } from "node:path";
import { call, serve, type Served } from "./lib/https-fixture.js";
import { bytes, makeKey, signRelease, type SigningKey } from "./lib/release.js";
import { publishRelease } from "../../tools/server/publish.js";
import { etagMatches, manifestEtag } from "../../tools/server/server.js";
import { signConfigDoc } from "../../tools/release/config-doc.js";
import { nodeVerify } from "../../tools/cli/verifier.js";
import { nodeSha256 } from "../../tools/cli/keys.js";
import { adminPaths } from "../../tools/server/admin-api.js";
import { CONFIG_HEADER, CONFIG_PENDING_HEADER, manifestPath } from "../../modules/fota/protocol.js";
import { toHex } from "../../modules/fota/hex.js";

const IMAGE_1 = bytes(3000, 1), IMAGE_2 = bytes(3000, 2);

async function fleet(): Promise<{ served: Served; key: SigningKey; token: string; publish: (version: string, sequence: number, staged?: boolean) => Promise<Buffer> }> {
	const served = await serve(undefined, { rolloutTickMs: 0 });
	const key = makeKey();
	await served.store.addKey("demo", key.keyId, toHex(key.publicKey));
	const { token } = await served.store.createToken("pat", new Date());
	const publish = async (version: string, sequence: number, staged = false) => {
		const image = sequence % 2 ? IMAGE_1 : IMAGE_2;
		const manifest = signRelease(image, { product: "demo", version, sequence, securityVersion: 1, url: `${version}.bin` }, key);
		const published = await publishRelease(served.store, join(served.dir, "images"), "demo", manifest, image, new Date(), { staged });
		if (!published.ok)
			throw new Error(published.detail);
		return Buffer.from(manifest);
	};
	return { served, key, token, publish };
}

function poll(served: Served, device: string, headers: Record<string, string> = {}, method = "GET") {
	return call(served, method, manifestPath("demo"), { device, headers: { "x-fota-version": "1.0.0", ...headers } });
}

test("If-None-Match with the manifest's ETag: 304, the ETag and no body; a new release: 200 with it; lists, weak tags, HEAD", async (t) => {
	const { served, publish } = await fleet();
	t.teardown(() => served.close());
	const one = await publish("1.0.0", 1);
	const first = await poll(served, "unit-1");
	t.is(first.status, 200);
	t.deepEqual(first.body, one);
	const etag = first.headers["etag"] as string;
	t.is(etag, manifestEtag(one), "the ETag is the hash of the bytes served");
	const same = await poll(served, "unit-1", { "if-none-match": etag });
	t.is(same.status, 304);
	t.is(same.headers["etag"], etag);
	t.is(same.headers["content-type"], undefined);
	t.is(same.headers["content-length"], undefined);
	t.deepEqual(same.body, Buffer.alloc(0));
	t.is((await served.store.device("unit-1"))!.version, "1.0.0");
	const two = await publish("2.0.0", 2);
	const changed = await poll(served, "unit-1", { "if-none-match": etag });
	t.is(changed.status, 200);
	t.deepEqual(changed.body, two);
	t.is(changed.headers["etag"], manifestEtag(two));
	// lists, "*", weak and malformed tags
	const current = manifestEtag(two);
	t.is((await poll(served, "unit-1", { "if-none-match": `"aaaa", ${current}` })).status, 304);
	t.is((await poll(served, "unit-1", { "if-none-match": "*" })).status, 304);
	t.is((await poll(served, "unit-1", { "if-none-match": `W/${current}` })).status, 200, "a weak tag never matches strongly");
	t.is((await poll(served, "unit-1", { "if-none-match": current.slice(1, -1) })).status, 200, "an unquoted tag is no tag");
	// HEAD: the headers, with or without a condition
	const head = await poll(served, "unit-1", {}, "HEAD");
	t.is(head.status, 200);
	t.is(head.headers["etag"], current);
	t.is(Number(head.headers["content-length"]), two.length);
	t.is((await poll(served, "unit-1", { "if-none-match": current }, "HEAD")).status, 304);
});

test("the check is recorded on a 304 as on a 200: the device's last-seen time moves and a 'checked' entry joins its history", async (t) => {
	const { served, publish } = await fleet();
	t.teardown(() => served.close());
	const one = await publish("1.0.0", 1);
	await served.store.recordReport({ deviceId: "unit-2", product: "demo", version: "1.0.0", state: "valid" }, new Date(Date.now() - 60_000), 100);
	const seen = (await served.store.device("unit-2"))!.lastSeen;
	t.is((await poll(served, "unit-2", { "if-none-match": manifestEtag(one) })).status, 304);
	await served.server.recorded(); // committed a moment after the answer (write-behind)
	t.not((await served.store.device("unit-2"))!.lastSeen, seen);
	t.is((await served.store.history("unit-2"))[0]!.state, "checked");
});

test("under a rollout each device's ETag is its own manifest's: the same tag gets 304 outside the stage and 200 inside, and the offer is made", async (t) => {
	const { served, token, publish } = await fleet();
	t.teardown(() => served.close());
	const devices = Array.from({ length: 20 }, (_, i) => `unit-${i}`);
	const one = await publish("1.0.0", 1);
	const two = await publish("2.0.0", 2, true);
	for (const id of devices)
		await served.store.recordReport({ deviceId: id, product: "demo", version: "1.0.0", state: "valid" }, new Date(), 100);
	const created = await call(served, "POST", adminPaths.rollouts(), { token, json: { product: "demo", version: "2.0.0", stages: [0.3, 1], thresholds: { success: 1, minDevices: 1 } } });
	t.is(created.status, 201, JSON.stringify(created.body));
	const answers = await Promise.all(devices.map((id) => poll(served, id, { "if-none-match": manifestEtag(one) })));
	const inside = devices.filter((_, i) => answers[i]!.status === 200), outside = devices.filter((_, i) => answers[i]!.status === 304);
	t.true(inside.length > 0 && outside.length > 0, `${inside.length} inside, ${outside.length} outside`);
	t.is(inside.length + outside.length, devices.length);
	for (const [i, id] of devices.entries())
		if (inside.includes(id)) {
			t.deepEqual(answers[i]!.body, two);
			t.is(answers[i]!.headers["etag"], manifestEtag(two));
		}
	// the offer was made to the devices inside: the staged image is theirs, and a poll naming its tag is a 304
	t.is((await call(served, "GET", "/v1/products/demo/2.0.0.bin", { device: inside[0]! })).status, 200);
	t.is((await call(served, "GET", "/v1/products/demo/2.0.0.bin", { device: outside[0]! })).status, 404);
	t.is((await poll(served, inside[0]!, { "if-none-match": manifestEtag(two) })).status, 304);
	t.is((await poll(served, outside[0]!, { "if-none-match": manifestEtag(two) })).status, 200);
});

test("the config hint rides on a 304", async (t) => {
	const { served, key, token, publish } = await fleet();
	t.teardown(() => served.close());
	const one = await publish("1.0.0", 1);
	const configKey = makeKey();
	await served.store.addKey("demo", configKey.keyId, toHex(configKey.publicKey), "config");
	const document = signConfigDoc({ product: "demo", sequence: 1, settings: { server: "https://fota.example", ca: served.caPem,
		keys: [{ keyId: key.keyId, publicKey: toHex(key.publicKey) }], configKeys: [{ keyId: configKey.keyId, publicKey: toHex(configKey.publicKey) }] } },
	configKey, nodeVerify, nodeSha256);
	t.is((await call(served, "POST", adminPaths.configs(), { token, json: { document: Buffer.from(document).toString("base64") } })).status, 201);
	const hinted = await poll(served, "unit-3", { "if-none-match": manifestEtag(one), [CONFIG_HEADER]: "0" });
	t.is(hinted.status, 304);
	t.is(hinted.headers[CONFIG_PENDING_HEADER], "1");
	t.is((await poll(served, "unit-3", { "if-none-match": manifestEtag(one), [CONFIG_HEADER]: "1" })).headers[CONFIG_PENDING_HEADER], undefined);
});

test("no release: 404 whatever If-None-Match says", async (t) => {
	const { served } = await fleet();
	t.teardown(() => served.close());
	t.is((await poll(served, "unit-4", { "if-none-match": "*" })).status, 404);
});

test("etagMatches: strong comparison over a list; '*' matches; weak, malformed and oversized values do not", (t) => {
	const etag = "\"0123456789abcdef0123456789abcdef\"";
	t.true(etagMatches(etag, etag));
	t.true(etagMatches(`"a,b", ${etag}`, etag), "a comma inside a tag's quotes does not split it");
	t.true(etagMatches(` * `, etag));
	t.false(etagMatches(`"a,${etag.slice(1)}`, etag));
	t.false(etagMatches(`W/${etag}`, etag));
	t.false(etagMatches(etag.slice(1, -1), etag));
	t.false(etagMatches(undefined, etag));
	t.false(etagMatches([etag], etag));
	t.false(etagMatches(`${" ".repeat(5000)}${etag}`, etag));
	t.false(etagMatches("", etag));
});

/** The served store's check commits held until release(), each noted in `order` ("check begins", "check stored");
 * `begins` resolves when the first begins. The test's teardown releases them before closing, so that a failed
 * assertion does not leave close() waiting for a held commit. */
function holdChecks(t: ExecutionContext, served: Served) {
	const store = served.store as unknown as { recordCheck: (...args: any[]) => Promise<boolean>; recordReport: (...args: any[]) => Promise<unknown> };
	const recordCheck = store.recordCheck.bind(store);
	const order: string[] = [];
	let release: () => void = () => {}, begun: () => void = () => {};
	const held = new Promise<void>((resolve) => { release = resolve; });
	const begins = new Promise<void>((resolve) => { begun = resolve; });
	t.teardown(() => { release(); return served.close(); });
	store.recordCheck = async (...args: any[]) => {
		order.push("check begins");
		begun();
		await held;
		const added = await recordCheck(...args);
		order.push("check stored");
		return added;
	};
	return { store, order, begins, release };
}

test("the manifest is answered before its check is committed; the device's next request runs that check and waits for it, and a failed check costs the device nothing", async (t) => {
	const logged: string[] = [];
	// the moment a check waits is made long here: only the device's next request can run it
	const served = await serve(new Uint8Array(500).fill(5), { rolloutTickMs: 0, log: (line) => logged.push(line), lightWriteDelayMs: 60_000 });
	const { store, order, begins, release } = holdChecks(t, served);
	const answer = await call(served, "GET", manifestPath("demo"), { device: "unit-9", headers: { "x-fota-version": "1.0.0" } });
	t.is(answer.status, 200, "answered while its check waits");
	await new Promise((resolve) => setTimeout(resolve, 100));
	t.deepEqual(order, [], "the check waits its moment");
	let answered = false;
	const polled = call(served, "GET", manifestPath("demo"), { device: "unit-9", headers: { "x-fota-version": "1.0.0" } })
		.then((reply) => { answered = true; return reply; });
	await begins; // the next poll runs the check
	await new Promise((resolve) => setTimeout(resolve, 200));
	t.deepEqual(order, ["check begins"]);
	t.false(answered, "the next poll was answered before the check was in");
	release();
	t.is((await polled).status, 200);
	await served.server.recorded();
	t.deepEqual((await served.store.history("unit-9")).map((row) => row.state), ["checked"], "one entry: the second poll found the first recorded");
	// a check that fails: the device still has its manifest, and the failure is logged
	store.recordCheck = async () => { throw new Error("the database is gone"); };
	t.is((await call(served, "GET", manifestPath("demo"), { device: "unit-9", headers: { "x-fota-version": "1.0.0" } })).status, 200);
	t.is((await call(served, "GET", manifestPath("demo"), { device: "unit-9", headers: { "x-fota-version": "1.0.0" } })).status, 200);
	t.true(logged.some((line) => line.includes("unit-9: recording its check failed") && line.includes("the database is gone")), logged.join("\n"));
});

test("a 'downloading' report is answered before it is committed, and the image does not wait for it; an outcome runs both and waits for them, in order", async (t) => {
	const logged: string[] = [];
	const served = await serve(new Uint8Array(500).fill(5), { rolloutTickMs: 0, log: (line) => logged.push(line), lightWriteDelayMs: 60_000 });
	const { store, order, begins, release } = holdChecks(t, served);
	const recordReport = store.recordReport.bind(store);
	store.recordReport = async (...args: any[]) => {
		order.push(`report ${args[0].state} begins`);
		const row = await recordReport(...args);
		order.push(`report ${args[0].state} stored`);
		return row;
	};
	const report = (state: string) => call(served, "POST", "/v1/devices/unit-9/report", { device: "unit-9", json: { product: "demo", version: "1.0.0", state, target: "2.0.0" } });
	t.is((await call(served, "GET", manifestPath("demo"), { device: "unit-9", headers: { "x-fota-version": "1.0.0" } })).status, 200);
	t.is((await report("downloading")).status, 204, "answered while the check before it is still being committed");
	const image = await call(served, "GET", "/v1/products/demo/1.bin", { device: "unit-9", headers: { range: "bytes=0-99" } });
	t.is(image.status, 206, "the image is served while the device's writes wait");
	t.is(image.body.length, 100);
	t.deepEqual(order, [], "nothing of the device is committed yet: its writes wait their moment");
	let answered = false;
	const outcome = report("activating").then((reply) => { answered = true; return reply; });
	await begins; // the outcome runs the device's deferred writes
	await new Promise((resolve) => setTimeout(resolve, 200));
	t.deepEqual(order, ["check begins"], "the report waits for the check");
	t.false(answered, "the outcome was answered before the device's deferred writes were in");
	release();
	t.is((await outcome).status, 204, "the outcome is answered once it is committed");
	t.deepEqual(order, ["check begins", "check stored", "report downloading begins", "report downloading stored", "report activating begins", "report activating stored"]);
	t.deepEqual((await served.store.history("unit-9")).map((row) => row.state), ["activating", "downloading", "checked"]);
	// a light report whose commit fails: the device has its 204 (it goes on to the image), the failure is logged
	store.recordReport = async () => { throw new Error("the disk is full"); };
	t.is((await report("downloading")).status, 204);
	await served.server.recorded();
	t.true(logged.some((line) => line.includes("unit-9: recording its downloading report failed") && line.includes("the disk is full")), logged.join("\n"));
	// a report that does not parse is refused before anything is answered or deferred
	t.is((await call(served, "POST", "/v1/devices/unit-9/report", { device: "unit-9", json: { product: "demo", version: "1.0.0", state: "downloading", sequence: -1 } })).status, 400);
});

test("a poll's check is committed its moment after the answer when nothing asks for it sooner, and at once when an admin asks", async (t) => {
	const moment = 2000; // long enough that a busy test process cannot pass it between the answer and the look
	const served = await serve(new Uint8Array(500).fill(5), { rolloutTickMs: 0, lightWriteDelayMs: moment });
	t.teardown(() => served.close());
	const { token } = await served.store.createToken("pat", new Date());
	t.is((await poll(served, "unit-7")).status, 200);
	t.is(await served.store.device("unit-7"), undefined, "committed before its moment");
	await new Promise((resolve) => setTimeout(resolve, moment + 300));
	t.is((await served.store.device("unit-7"))?.version, "1.0.0", "not committed once its moment passed");
	t.is((await poll(served, "unit-8")).status, 200);
	t.is(await served.store.device("unit-8"), undefined);
	const seen = await call(served, "GET", adminPaths.device("unit-8"), { token });
	t.is(seen.status, 200, "the admin does not see the poll it was answered before");
	t.deepEqual(seen.body.history.map((row: { state: string }) => row.state), ["checked"]);
});
