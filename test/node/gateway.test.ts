// The gateway (tools/gateway) between a real management server and virtual devices (tools/fleet: the real client,
// mutual TLS), all in this process on loopback:
//   - ten devices update through it: the image crosses the upstream once, each device gets it whole from the cache,
//     the manifest reaches the devices byte for byte as the cloud signed it, and every report reaches the cloud, whose
//     inventory names the gateway;
//   - an image that arrives altered (a test proxy flips a byte between the cloud and the gateway) is never served: the
//     devices are told to wait; once the link is honest the same release installs;
//   - the upstream cut: devices update from what the gateway fetched before the cut, their reports wait in the queue,
//     survive a restart of the gateway, and reach the cloud once the link returns, each once, none lost.
import test, { type ExecutionContext } from "ava";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { createServer, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PRODUCT, World } from "../../tools/demo/world.js";
import { GatewaySite } from "../../tools/demo/gateway-site.js";
import type { Gateway } from "../../tools/gateway/gateway.js";
import { GatewayState } from "../../tools/gateway/state.js";
import { Upstream, UpstreamUnreachable } from "../../tools/gateway/upstream.js";
import { devCertificates } from "./lib/https-fixture.js";
import { deviceId, startFleet, type Fleet } from "../../tools/fleet/fleet.js";
import { fleetImage } from "../../tools/fleet/image.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";
import { VERSION_HEADER } from "../../modules/fota/protocol.js";
import { Link } from "./lib/link.js";
import { HostileServer } from "../e2e/hostile.js";
import { allValidAtCloud, asDevice, gatewayHeaders, until } from "../e2e/gateway-lib.js";

const IMAGE = fleetImage("2.0.0", 64 * 1024);
const IMAGE_PATH = `/v1/products/${PRODUCT}/firmware-2.0.0.bin`;

interface Rig {
	w: World;
	site: GatewaySite;
	gateway: Gateway;
	ids: string[];
	fleet(): Promise<Fleet>;
}

/** A cloud, a gateway whose upstream goes through `front` (a URL in front of the cloud; the cloud itself when
 * undefined), and `count` devices registered behind it. */
async function rig(t: ExecutionContext, count: number, front?: (w: World) => Promise<string>): Promise<Rig> {
	const w = new World(mkdtempSync(join(tmpdir(), "xs-fota-gateway-")));
	await w.start();
	const upstream = front ? await front(w) : w.url;
	const site = await GatewaySite.make(w, "gw-1", { upstream: { url: upstream, ca: readFileSync(w.certs.ca, "utf8") }, syncSeconds: 1, timeoutSeconds: 2 });
	const logs: string[] = [];
	let gateway = await site.start((line) => logs.push(line));
	const ids = Array.from({ length: count }, (_, i) => deviceId("behind", i + 1));
	await site.register(ids);
	const fleets: Fleet[] = [];
	const made: Rig = {
		w, site, gateway, ids,
		async fleet() {
			const fleet = await startFleet({
				server: site.url, serverCa: site.localCa, deviceCa: w.deviceCa, product: PRODUCT, count, idPrefix: "behind", version: "1.0.0",
				keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.2,
				config: { backoffSeconds: 0.2, maxBackoffSeconds: 1, timeoutSeconds: 5 },
			});
			fleets.push(fleet);
			return fleet;
		},
	};
	t.teardown(async () => {
		for (const fleet of fleets)
			await fleet.stop();
		await made.gateway.close();
		await w.stop();
		if (!t.passed)
			t.log(logs.slice(-40).join("\n"));
	});
	void gateway;
	return made;
}

test.serial("ten devices behind a gateway: one upstream download, the manifest unchanged, every report at the cloud", async (t) => {
	t.timeout(120_000);
	const r = await rig(t, 10);
	await r.w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: IMAGE });
	const fleet = await r.fleet();
	await fleet.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 60_000);
	await until("every report at the cloud", 30_000, () => allValidAtCloud(r.w, r.ids, "2.0.0"));

	t.is(r.w.server.sent.get(IMAGE_PATH), IMAGE.length, "the cloud sent the image more (or less) than once");
	t.is(r.gateway.upstream.imageBytes, IMAGE.length);
	t.is(r.gateway.servedBytes, 10 * IMAGE.length, "each device got the image once, whole, from the gateway");
	// the manifest a device gets from the gateway is the cloud's signed bytes
	const release = (await r.w.store.releases(PRODUCT))[0]!;
	const manifest = await asDevice(r.site, r.w, r.ids[0]!, `/v1/products/${PRODUCT}/manifest`, { headers: { [VERSION_HEADER]: "2.0.0" } });
	t.is(manifest.status, 200);
	t.deepEqual(new Uint8Array(manifest.body), release.manifest);
	// the cloud's inventory: each device behind gw-1, and its history came through it
	const { token } = await r.w.store.createToken("gateway-test", new Date());
	const shown = await new Promise<any>((resolve, reject) => {
		request(`${r.w.url}/v1/admin/devices/${r.ids[3]}`, { ca: readFileSync(r.w.certs.ca), headers: { authorization: `Bearer ${token}` } }, (response) => {
			let text = "";
			response.on("data", (chunk) => { text += chunk; });
			response.on("end", () => resolve(JSON.parse(text)));
		}).on("error", reject).end();
	});
	t.is(shown.gateway, "gw-1");
	t.like(shown, { version: "2.0.0", state: "valid" });
	t.deepEqual(shown.history.map((entry: { state: string }) => entry.state).filter((state: string) => state !== "checked").reverse().slice(-1), ["valid"]);
	await until("the queue to drain", 30_000, async () => (await r.gateway.queued()) === 0 || undefined);
});

test.serial("an image altered on its way to the gateway is never served; the honest copy is", async (t) => {
	t.timeout(120_000);
	let hostile!: HostileServer;
	let tamper = true;
	const r = await rig(t, 2, async (w) => {
		hostile = new HostileServer({ upstream: w.url, ca: readFileSync(w.certs.ca), cert: readFileSync(w.certs.cert), key: readFileSync(w.certs.key),
			identity: (id) => makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId: id }) });
		hostile.behaviour = async (exchange, server) => {
			const answer = await server.upstream(exchange, gatewayHeaders(exchange));
			if (tamper && exchange.path === IMAGE_PATH && answer.body.length > 1000) {
				answer.body = Buffer.from(answer.body);
				answer.body[1000] ^= 0x40; // one bit, inside the image
			}
			await server.answer(exchange, answer);
		};
		return hostile.listen();
	});
	t.teardown(() => hostile.close());
	await r.w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: IMAGE });
	const fleet = await r.fleet();
	const sha256 = createHash("sha256").update(IMAGE).digest("hex");
	// the gateway fetched the altered bytes, found the digest wrong, and kept nothing
	await until("the gateway to refuse the altered image", 30_000, () => /digest-mismatch/.test(r.gateway.cache.failures.get(sha256) ?? "") || undefined);
	t.is(r.gateway.servedBytes, 0, "bytes of an unverified image were served");
	t.false(r.gateway.cache.ready(sha256));
	t.false(existsSync(r.gateway.cache.path(sha256)));
	const asked = await asDevice(r.site, r.w, r.ids[0]!, `/v1/products/${PRODUCT}/firmware-2.0.0.bin`);
	t.is(asked.status, 503);
	t.regex(asked.body.toString(), /fetching/);
	t.true(fleet.devices.every((device) => device.version === "1.0.0"));
	// the link turns honest: the same release installs, from verified bytes
	tamper = false;
	await fleet.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 60_000);
	t.true(r.gateway.cache.ready(sha256));
	t.is(createHash("sha256").update(readFileSync(r.gateway.cache.path(sha256))).digest("hex"), sha256);
	t.deepEqual(readdirSync(join(r.site.dir, "state", "partial")), []);
});

test.serial("upstream cut for the whole update: devices update from the cache, reports wait on the disk and arrive once", async (t) => {
	t.timeout(180_000);
	let link!: Link;
	const r = await rig(t, 8, async (w) => {
		link = new Link(Number(new URL(w.url).port));
		return link.listen();
	});
	t.teardown(() => link.close());
	const fleet = await r.fleet();
	// every device known to the gateway (no release yet), then the release; the gateway's sync fetches it for them
	await until("every device to check in at the cloud", 30_000, async () => (await r.w.store.fleetSummary()).devices >= 8 || undefined);
	await until("every device known to the gateway", 30_000, async () => (await r.gateway.state.devices()).length === 8 || undefined);
	await fleet.stop();
	await r.w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: IMAGE });
	const sha256 = createHash("sha256").update(IMAGE).digest("hex");
	await r.gateway.sync();
	await until("the image in the cache", 30_000, () => r.gateway.cache.ready(sha256) || undefined);
	const reportsBefore = (await r.w.store.devices()).reduce((sum, device) => sum + device.reports, 0);

	link.cut();
	const during = await r.fleet();
	await during.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 60_000);
	await until("every device's valid report in the queue", 30_000, async () =>
		(await r.gateway.state.oldest(100)).filter((item) => item.report.state === "valid").length === 8 || undefined);
	const queued = await r.gateway.queued();
	t.true(queued >= 8, `only ${queued} reports queued`);
	t.true((await r.w.store.devices()).every((device) => device.version === "1.0.0"), "a report crossed the cut link");

	// the gateway restarts with the link still cut: the queue is on the disk
	await during.stop();
	await r.gateway.close();
	r.gateway = await r.site.start();
	t.is(await r.gateway.queued(), queued);
	link.restore();
	await until("the queue to drain", 60_000, async () => (await r.gateway.queued()) === 0 || undefined);
	t.truthy(await allValidAtCloud(r.w, r.ids, "2.0.0"));
	const reportsAfter = (await r.w.store.devices()).reduce((sum, device) => sum + device.reports, 0);
	t.is(reportsAfter - reportsBefore, queued, "every queued report stored at the cloud once: none lost, none twice");
	t.is(r.w.server.sent.get(IMAGE_PATH), IMAGE.length);
});

test("a gateway state made again numbers its reports above the old one's, so its upstream takes none for a duplicate", async (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-gateway-state-"));
	const report = { deviceId: "dev-a", via: [], at: Date.now(), report: { product: PRODUCT, version: "1.0.0", state: "valid" } };
	const first = await GatewayState.open(join(dir, "first.db"));
	await first.enqueue([report, report, report]);
	const old = (await first.oldest(10)).map((item) => item.seq);
	await first.close();
	t.deepEqual(old, [old[0]!, old[0]! + 1, old[0]! + 2]);
	await new Promise((resolve) => setTimeout(resolve, 2));
	const again = await GatewayState.open(join(dir, "again.db")); // the state folder lost and made anew
	await again.enqueue([report]);
	const [made] = await again.oldest(1);
	await again.close();
	t.true(made!.seq > old[2]!, `${made!.seq} is not above ${old[2]}`);
	t.true(Number.isSafeInteger(made!.seq));
});

test("an upstream that drips an image is cut off by the minimum rate, not waited on until the deadline", async (t) => {
	const { certs, deviceCa } = devCertificates();
	const server = createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (_request, response) => {
		response.writeHead(200, { "content-length": 100000 });
		const drip = setInterval(() => response.write(Buffer.alloc(1)), 50); // 20 bytes a second
		response.on("close", () => clearInterval(drip));
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const identity = makeDeviceCertificate({ caCert: deviceCa.cert, caKey: deviceCa.key, deviceId: "gw-drip" });
	const upstream = new Upstream({ url: `https://localhost:${(server.address() as { port: number }).port}`, ca: readFileSync(certs.ca, "utf8"), key: identity.key, cert: identity.cert, timeoutSeconds: 5 });
	try {
		let received = 0;
		const error = await t.throwsAsync(upstream.stream("/image", [], { response: () => true, data: (chunk) => { received += chunk.length; } },
			{ minRateBytesPerSecond: 100, windowMs: 500 }));
		t.true(error instanceof UpstreamUnreachable);
		t.regex(error!.message, /under 100 bytes a second/);
		t.true(received > 0 && received < 100000);
	} finally {
		upstream.close();
		server.closeAllConnections();
		server.close();
	}
});

test("a slow answer from before a release does not undo the newer manifest on record for a device", async (t) => {
	const state = await GatewayState.open(join(mkdtempSync(join(tmpdir(), "xs-fota-gateway-state-")), "state.db"));
	try {
		const fields = { product: PRODUCT, version: "1.0.0", via: [] };
		const manifest = { bytes: new Uint8Array([1, 2, 3]), url: "firmware-2.0.0.bin", sha256: "ab".repeat(32) };
		await state.saw("dev-a", fields, manifest, 2000); // asked at 2000: the release
		await state.saw("dev-a", { ...fields, version: "1.0.1" }, null, 1000); // asked at 1000, answered late: no release then
		t.like(await state.device("dev-a"), { version: "1.0.1", imageUrl: "firmware-2.0.0.bin", manifest: manifest.bytes });
		await state.saw("dev-a", fields, null, 3000); // a newer answer: the release withdrawn
		t.like(await state.device("dev-a"), { manifest: undefined, imageUrl: undefined });
	} finally {
		await state.close();
	}
});

test.serial("the report queue is bounded: a full queue tells devices to report later, and takes reports again once it drains", async (t) => {
	t.timeout(120_000);
	let link!: Link;
	const w = new World(mkdtempSync(join(tmpdir(), "xs-fota-gateway-full-")));
	await w.start();
	link = new Link(Number(new URL(w.url).port));
	const site = await GatewaySite.make(w, "gw-full", { upstream: { url: await link.listen(), ca: readFileSync(w.certs.ca, "utf8") }, maxQueued: 100, timeoutSeconds: 2 });
	let gateway = await site.start();
	t.teardown(async () => {
		await gateway.close();
		await link.close();
		await w.stop();
	});
	await site.register(["dev-full"]);
	link.cut();
	const identity = makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId: "dev-full" });
	const post = (n: number) => new Promise<number>((resolve, reject) => {
		const body = JSON.stringify({ product: PRODUCT, version: "1.0.0", state: "interrupted", error: `report ${n}` });
		request(`${site.url}/v1/devices/dev-full/report`, { method: "POST", ca: site.localCa, key: identity.key, cert: identity.cert,
			headers: { "content-type": "application/json" } }, (response) => {
			response.resume();
			response.on("end", () => resolve(response.statusCode ?? 0));
		}).on("error", reject).end(body);
	});
	for (let n = 1; n <= 100; n++)
		t.is(await post(n), 204);
	t.is(await gateway.queued(), 100);
	t.is(await post(101), 503, "a report past the bound was taken");
	t.is(await gateway.queued(), 100);
	link.restore();
	await until("the queue to drain", 60_000, async () => (await gateway.queued()) === 0 || undefined);
	t.is(await post(101), 204);
	await until("the last report at the cloud", 30_000, async () => (await w.store.history("dev-full"))[0]?.error === "report 101" || undefined);
	t.is((await w.store.device("dev-full"))!.reports, 101);
});
