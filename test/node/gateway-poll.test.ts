// Conditional manifest requests through a gateway (tools/gateway/gateway.ts), between a real cloud and a device on
// loopback: the gateway asks its upstream conditionally on its own copy of the device's manifest, and the cloud's 304
// comes down as a 304 to a device whose If-None-Match names that manifest (a few bytes across the uplink, the check
// still recorded at the cloud); with the upstream cut, the gateway answers from its copy, 304 when the tag matches;
// a new release comes down whole. An upstream 304 that answers no question the gateway asked (no ETag sent, or
// another tag named) is the upstream's fault: never passed down as "nothing new".
import test from "ava";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PRODUCT, World } from "../../tools/demo/world.js";
import { GatewaySite } from "../../tools/demo/gateway-site.js";
import { fleetImage } from "../../tools/fleet/image.js";
import { manifestEtag } from "../../tools/server/server.js";
import { CONFIG_HEADER, CONFIG_PENDING_HEADER, VERSION_HEADER } from "../../modules/fota/protocol.js";
import { Link } from "./lib/link.js";
import { asDevice, gatewayHeaders, until } from "../e2e/gateway-lib.js";
import { HostileServer } from "../e2e/hostile.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";
import { createHash } from "node:crypto";

test("a 304 passes through the gateway, and the gateway answers 304 from its copy when the upstream is away", async (t) => {
	t.timeout(120_000);
	const w = new World(mkdtempSync(join(tmpdir(), "xs-fota-gateway-poll-")));
	await w.start();
	const link = new Link(Number(new URL(w.url).port));
	const site = await GatewaySite.make(w, "gw-1", { upstream: { url: await link.listen(), ca: readFileSync(w.certs.ca, "utf8") }, syncSeconds: 0, timeoutSeconds: 2 });
	const logs: string[] = [];
	const gateway = await site.start((line) => logs.push(line));
	t.teardown(async () => {
		await gateway.close();
		await link.close();
		await w.stop();
		if (!t.passed)
			t.log(logs.slice(-30).join("\n"));
	});
	await site.register(["unit-1"]);
	await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: fleetImage("2.0.0", 4096) });
	const path = `/v1/products/${PRODUCT}/manifest`;
	const ask = (headers: Record<string, string> = {}) => asDevice(site, w, "unit-1", path, { headers: { [VERSION_HEADER]: "1.0.0", ...headers } });

	const whole = await ask();
	t.is(whole.status, 200);
	const release = (await w.store.releases(PRODUCT))[0]!;
	t.deepEqual(new Uint8Array(whole.body), release.manifest);
	const etag = manifestEtag(whole.body);

	// every upstream connection open and the image fetched, so that the uplink then carries only the manifest answers
	for (let i = 0; i < 5; i++)
		await ask();
	await until("the image in the gateway's cache", 30_000, () => gateway.cache.ready(createHash("sha256").update(fleetImage("2.0.0", 4096)).digest("hex")) || undefined);
	let down = link.down;
	t.is((await ask()).status, 200);
	const unconditional = link.down - down;
	const seenBefore = (await w.store.device("unit-1"))!.lastSeen;
	await new Promise((resolve) => setTimeout(resolve, 20));
	down = link.down;
	const same = await ask({ "if-none-match": etag });
	t.is(same.status, 304);
	t.is(same.body.length, 0);
	const conditional = link.down - down;
	// the gateway asks conditionally on its own copy whatever the device sent: the manifest does not cross the uplink
	// again for either (TLS records of the 304 only)
	t.true(release.manifest.length > 300, `a manifest of ${release.manifest.length} bytes`);
	t.true(conditional < release.manifest.length && unconditional < release.manifest.length, `the uplink carried ${conditional} and ${unconditional} bytes: the manifest came again`);
	t.not((await w.store.device("unit-1"))!.lastSeen, seenBefore, "the check reached the cloud (its last-seen time moved)");
	t.is((await ask({ "if-none-match": "\"0000\"" })).status, 200, "another tag: the whole manifest");
	// the cloud's config hint rides on its 304, and on the gateway's
	await w.pushConfig(w.signConfig({ devices: ["unit-1"], sequence: 1, settings: w.settings("unit-1") }));
	const hinted = await ask({ "if-none-match": etag, [CONFIG_HEADER]: "0" });
	t.is(hinted.status, 304);
	t.is(hinted.headers[CONFIG_PENDING_HEADER], "1");

	// the upstream away: the gateway's copy, conditionally
	link.cut();
	t.is((await ask({ "if-none-match": etag })).status, 304);
	const cached = await ask();
	t.is(cached.status, 200);
	t.deepEqual(new Uint8Array(cached.body), release.manifest);
	link.restore();

	// a new release: the old tag gets the new manifest whole
	await w.publish({ version: "3.0.0", sequence: 3, securityVersion: 1, image: fleetImage("3.0.0", 4096) });
	const newer = await ask({ "if-none-match": etag });
	t.is(newer.status, 200);
	t.not(manifestEtag(newer.body), etag);
	t.is((await ask({ "if-none-match": manifestEtag(newer.body) })).status, 304);
});

test("an upstream 304 to a question the gateway did not ask is not passed down: the gateway's copy, or 503", async (t) => {
	t.timeout(120_000);
	const w = new World(mkdtempSync(join(tmpdir(), "xs-fota-gateway-poll-")));
	await w.start();
	const hostile = new HostileServer({ upstream: w.url, ca: readFileSync(w.certs.ca), cert: readFileSync(w.certs.cert), key: readFileSync(w.certs.key),
		identity: (id) => makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId: id }) });
	let lie: string | undefined; // the ETag the lying upstream names in its 304s
	hostile.behaviour = async (exchange, server) => {
		if (lie !== undefined && exchange.path.endsWith("/manifest"))
			return server.answer(exchange, { status: 304, headers: { etag: lie }, body: Buffer.alloc(0) });
		await server.answer(exchange, await server.upstream(exchange, gatewayHeaders(exchange)));
	};
	const site = await GatewaySite.make(w, "gw-1", { upstream: { url: await hostile.listen(), ca: readFileSync(w.certs.ca, "utf8") }, syncSeconds: 0, timeoutSeconds: 2 });
	const gateway = await site.start();
	t.teardown(async () => {
		await gateway.close();
		await hostile.close();
		await w.stop();
	});
	await site.register(["unit-1", "unit-2"]);
	await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: fleetImage("2.0.0", 4096) });
	const path = `/v1/products/${PRODUCT}/manifest`;
	const ask = (device: string, headers: Record<string, string> = {}) => asDevice(site, w, device, path, { headers: { [VERSION_HEADER]: "1.0.0", ...headers } });
	const whole = await ask("unit-1");
	t.is(whole.status, 200);

	lie = "\"not-the-one-asked\"";
	const kept = await ask("unit-1");
	t.is(kept.status, 200, "a 304 naming another tag: the gateway's own copy");
	t.deepEqual(kept.body, whole.body);
	t.is((await ask("unit-1", { "if-none-match": manifestEtag(whole.body) })).status, 304, "and conditionally, from that copy");
	const none = await ask("unit-2");
	t.is(none.status, 503, "a 304 to a gateway that holds no copy (it asked unconditionally) is no answer");
	t.regex(none.body.toString(), /upstream-unreachable/);
	t.true(hostile.requests.some((request) => request.path.endsWith("/manifest") && request.headers["if-none-match"] === manifestEtag(whole.body)),
		"the gateway asked conditionally on its copy");
});
