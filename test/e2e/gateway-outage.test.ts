// The uplink cut for a whole rollout, end to end: 2 sim boards and 10 virtual devices behind a gateway whose link to
// the cloud goes through a test proxy. The devices are known to the cloud; a staged release and its rollout are
// created; the gateway's sync asks the cloud for every device's manifest (the rollout offers it) and fetches the image;
// then the link is cut and the devices are powered on. They update from the gateway's cache; their reports wait in its
// queue; when the link returns every report reaches the cloud once (none lost, none twice), and the rollout completes.
import test from "ava";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { builds, is, world } from "./lib.js";
import { allValidAtCloud, until } from "./gateway-lib.js";
import { PRODUCT } from "../../tools/demo/world.js";
import { GatewaySite } from "../../tools/demo/gateway-site.js";
import type { Board } from "../../tools/demo/board.js";
import { deviceId, startFleet } from "../../tools/fleet/fleet.js";
import { Link } from "../node/lib/link.js";

test.serial("the uplink cut for a whole rollout: devices update from the cache, every report reaches the cloud once, the rollout completes", async (t) => {
	t.timeout(240_000);
	const w = await world();
	const link = new Link(Number(new URL(w.url).port));
	await link.listen();
	const site = await GatewaySite.make(w, "gw-cut", { upstream: { url: link.url, ca: readFileSync(w.certs.ca, "utf8") }, syncSeconds: 3600, timeoutSeconds: 2 });
	const gateway = await site.start();
	const sims = ["cut-sim-1", "cut-sim-2"];
	const virtual = Array.from({ length: 10 }, (_, i) => deviceId("cut", i + 1));
	const all = [...sims, ...virtual];
	const { v1, v2 } = builds(w);
	const flashes = sims.map((name) => w.device(name, v1, { server: site.url, ca: site.localCa }));
	const fleetOptions = {
		server: site.url, serverCa: site.localCa, deviceCa: w.deviceCa, product: PRODUCT, count: virtual.length, idPrefix: "cut", version: "1.0.0",
		keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.3,
		config: { backoffSeconds: 0.5, maxBackoffSeconds: 2, timeoutSeconds: 10 },
	};
	let boards: Board[] = [];
	try {
		await site.register(all);
		// every device checks in once through the gateway (nothing to update yet): the cloud knows them and their versions
		boards = flashes.map((flash) => w.boot(flash));
		const first = await startFleet(fleetOptions);
		await until("every device known at the cloud", 60_000, async () => (await Promise.all(all.map((id) => w.record(id)))).every(Boolean) || undefined);
		await until("every device known to the gateway", 30_000, async () => (await gateway.state.devices()).length === all.length || undefined);
		await first.stop();
		for (const board of boards)
			await board.stop();
		boards = [];

		// the release, staged, and its rollout; the gateway asks for every device's manifest and fetches the image
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 }, { staged: true });
		const rollout = await w.server.rollouts.create({ product: PRODUCT, version: "2.0.0", stages: [1], thresholds: { success: 1, error: 0.5, minDevices: 1, soakSeconds: 0 } });
		await gateway.sync();
		const sha256 = createHash("sha256").update(v2).digest("hex");
		await until("the image in the gateway's cache", 60_000, () => gateway.cache.ready(sha256) || undefined);
		const reportsBefore = (await w.store.devices()).reduce((sum, device) => sum + device.reports, 0);

		// the uplink goes down for the whole rollout; the devices are powered on and update from the gateway
		link.cut();
		boards = flashes.map((flash) => w.boot(flash));
		const during = await startFleet(fleetOptions);
		try {
			for (const board of boards)
				await board.waitFor(is("valid", { version: "2.0.0" }), 120_000, "the sim device's update from the cache");
			await during.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 120_000);
			await until("every device's valid report in the queue", 30_000, async () =>
				new Set((await gateway.state.oldest(1000)).filter((item) => item.report.state === "valid").map((item) => item.deviceId)).size === all.length || undefined);
		} finally {
			await during.stop();
			for (const board of boards)
				await board.stop();
		}
		const queued = await gateway.queued();
		t.true((await w.store.devices()).every((device) => device.version === "1.0.0"), "a report crossed the cut link");
		t.not((await w.server.rollouts.view(rollout.id))!.state, "complete");

		// the link returns: the queue drains, each report once; the rollout sees every device succeed
		link.restore();
		await until("the queue to drain", 60_000, async () => (await gateway.queued()) === 0 || undefined);
		t.true(await allValidAtCloud(w, all, "2.0.0"));
		const reportsAfter = (await w.store.devices()).reduce((sum, device) => sum + device.reports, 0);
		t.is(reportsAfter - reportsBefore, queued, "reports lost or stored twice");
		await w.server.rollouts.tick();
		const view = (await w.server.rollouts.view(rollout.id))!;
		t.is(view.state, "complete", view.cause);
		t.is(view.stages[0]!.succeeded, all.length);
		t.is(w.server.sent.get(`/v1/products/${PRODUCT}/firmware-2.0.0.bin`), v2.length);
	} finally {
		for (const board of boards)
			await board.stop();
		await gateway.close();
		await link.close();
		await w.stop();
	}
});
