// Attacks on and by a gateway, end to end, each refused:
//   - a hostile gateway (a test proxy with the gateway's own local certificate, in front of the real gateway) that
//     alters the signed manifest: the sim device refuses it (bad-signature), and its report of why reaches the cloud
//     through the gateway's queue; one that alters the image: the device refuses it (digest-mismatch) and says so;
//   - a gateway whose certificate is revoked at the cloud: the cloud refuses it; its devices get the refusal, not
//     a manifest, and it no longer hands out what it had cached for them.
//   - a device not registered behind the gateway: its report, queued and forwarded by the gateway, is refused by the
//     cloud and nothing of it stored; its manifest request is refused (more cases in test/node/server-gateways.test.ts).
import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { builds, is, world } from "./lib.js";
import { allValidAtCloud, asDevice, gatewayHeaders, until } from "./gateway-lib.js";
import { HostileServer, isImage, isManifest } from "./hostile.js";
import { PRODUCT } from "../../tools/demo/world.js";
import { GatewaySite } from "../../tools/demo/gateway-site.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";
import { deviceId, startFleet } from "../../tools/fleet/fleet.js";
import { manifestPath } from "../../modules/fota/protocol.js";

test.serial("a gateway that alters the manifest or the image: the devices refuse it and the cloud learns why", async (t) => {
	t.timeout(180_000);
	const w = await world();
	const site = await GatewaySite.make(w, "gw-evil");
	const gateway = await site.start();
	// the hostile gateway: the real one's local certificate (the devices trust it), passing requests on to it
	const hostile = new HostileServer({ upstream: site.url, ca: site.localCa, cert: readFileSync(join(site.dir, "local/server.pem")), key: readFileSync(join(site.dir, "local/server.key")),
		identity: (id) => makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId: id }) });
	let alter: "manifest" | "image" = "manifest";
	hostile.behaviour = async (exchange, server) => {
		const answer = await server.upstream(exchange, gatewayHeaders(exchange));
		if ((answer.status === 200 || answer.status === 206) && ((alter === "manifest" && isManifest(exchange)) || (alter === "image" && isImage(exchange)))) {
			answer.body = Buffer.from(answer.body);
			answer.body[alter === "manifest" ? answer.body.length - 80 : answer.body.length >> 1]! ^= 0x04; // in the signed body; in the image
		}
		await server.answer(exchange, answer);
	};
	await hostile.listen();
	const board = w.boot(w.device("sim-evil", builds(w).v1, { server: hostile.url, ca: site.localCa }));
	try {
		await site.register(["sim-evil", deviceId("evil", 1)]);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: builds(w).v2 });
		await board.waitFor(is("reject", { reason: "bad-signature" }), 60_000, "the sim device to refuse the altered manifest");
		await until("the refusal at the cloud", 30_000, async () => (await w.record("sim-evil"))?.lastError === "bad-signature" || undefined);
		t.like(await w.record("sim-evil"), { state: "rejected", version: "1.0.0", lastError: "bad-signature" });
		t.false(board.events.some(is("activate")), "the device activated something from the hostile gateway");

		alter = "image";
		const fleet = await startFleet({
			server: hostile.url, serverCa: site.localCa, deviceCa: w.deviceCa, product: PRODUCT, count: 1, idPrefix: "evil", version: "1.0.0",
			keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.2,
			config: { backoffSeconds: 0.5, maxBackoffSeconds: 1 },
		});
		try {
			await until("the virtual device to refuse the altered image", 60_000, async () => /digest-mismatch/.test((await w.record(deviceId("evil", 1)))?.lastError ?? "") || undefined);
			t.is(fleet.devices[0]!.version, "1.0.0");
			t.like(await w.record(deviceId("evil", 1)), { version: "1.0.0" });
		} finally {
			await fleet.stop();
		}
	} finally {
		await board.stop();
		await hostile.close();
		await gateway.close();
		await w.stop();
	}
});

test.serial("a device not behind the gateway is refused by the cloud; a revoked gateway is refused, and stops serving what it cached", async (t) => {
	t.timeout(120_000);
	const w = await world();
	const site = await GatewaySite.make(w, "gw-lost");
	const gateway = await site.start();
	try {
		const ids = [deviceId("lost", 1), deviceId("lost", 2)];
		await site.register(ids);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: builds(w).v2 });
		const fleet = await startFleet({
			server: site.url, serverCa: site.localCa, deviceCa: w.deviceCa, product: PRODUCT, count: 1, idPrefix: "lost", version: "1.0.0",
			keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.2,
		});
		try {
			await fleet.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 60_000);
		} finally {
			await fleet.stop();
		}
		await until("the reports at the cloud", 30_000, () => allValidAtCloud(w, [ids[0]!], "2.0.0"));
		// a device the gateway may not act for (not registered behind it) reports through it: the gateway queues it (it
		// cannot know), the cloud refuses it for good, and stores nothing of it
		const stranger = await asDevice(site, w, "stranger", "/v1/devices/stranger/report", { method: "POST", json: { product: PRODUCT, version: "1.0.0", state: "valid" } });
		t.is(stranger.status, 204);
		await until("the stranger's report answered by the cloud", 30_000, async () => (await gateway.queued()) === 0 || undefined);
		t.is(await w.store.device("stranger"), undefined, "the cloud took a report from a device not behind the gateway");
		t.is((await asDevice(site, w, "stranger", manifestPath(PRODUCT), { headers: { "x-fota-version": "1.0.0" } })).status, 403);

		// the gateway is lost: revoked at the cloud
		await w.store.revoke("gw-lost", new Date());
		const before = await w.store.devices();
		for (const id of ids) {
			const answer = await asDevice(site, w, id, manifestPath(PRODUCT), { headers: { "x-fota-version": "1.0.0" } });
			t.is(answer.status, 403, `${id}: ${answer.body}`);
			t.like(JSON.parse(answer.body.toString()), { error: "revoked", detail: "device gw-lost is revoked" });
		}
		const reported = await asDevice(site, w, ids[1]!, `/v1/devices/${ids[1]}/report`, { method: "POST", json: { product: PRODUCT, version: "1.0.0", state: "valid" } });
		t.is(reported.status, 204); // taken into the queue; the cloud refuses the batch, so it stays there
		await gateway.forward(); // a run that meets the cloud's refusal: the report stays queued, nothing is stored
		t.is(await gateway.queued(), 1);
		t.deepEqual(await w.store.devices(), before, "the cloud took something from a revoked gateway");
		// what it cached for the devices is not handed out any more, even with the cloud out of reach
		t.is((await gateway.state.device(ids[0]!))?.manifest, undefined);
	} finally {
		await gateway.close();
		await w.stop();
	}
});
