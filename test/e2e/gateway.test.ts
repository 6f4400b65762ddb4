// Gateways end to end on loopback, with real sim devices (the XS host, the real natives, the example firmware) and
// virtual ones (tools/fleet, the real client):
//   - 1 cloud, 1 gateway, 50 devices behind it (3 sim boards, 47 virtual): every device updates and is valid at the
//     cloud (its reports came through the gateway's queue), the image crossed the upstream once, and the gateway served
//     it once to each device;
//   - two levels (cloud <- gateway <- gateway <- devices): the same, each link carrying the image once, and the cloud's
//     inventory naming each device's own gateway.
import test from "ava";
import { builds, is, world } from "./lib.js";
import { allValidAtCloud, until } from "./gateway-lib.js";
import { PRODUCT, type World } from "../../tools/demo/world.js";
import { GatewaySite } from "../../tools/demo/gateway-site.js";
import type { Board } from "../../tools/demo/board.js";
import { deviceId, startFleet } from "../../tools/fleet/fleet.js";

const IMAGE_PATH = `/v1/products/${PRODUCT}/firmware-2.0.0.bin`;

function fleetBehind(w: World, site: GatewaySite, count: number, prefix: string) {
	return startFleet({
		server: site.url, serverCa: site.localCa, deviceCa: w.deviceCa, product: PRODUCT, count, idPrefix: prefix, version: "1.0.0",
		keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.5,
		config: { backoffSeconds: 0.5, maxBackoffSeconds: 2, timeoutSeconds: 10, chunkBytes: 16384 },
	});
}

test.serial("1 cloud, 1 gateway, 50 devices behind it (3 sim boards, 47 virtual): the image crosses the upstream once", async (t) => {
	t.timeout(240_000);
	const w = await world();
	const boards: Board[] = [];
	const logs: string[] = [];
	const site = await GatewaySite.make(w, "gw-1");
	const gateway = await site.start((line) => logs.push(line));
	try {
		const { v1, v2 } = builds(w);
		const sims = ["sim-a", "sim-b", "sim-c"];
		const virtual = Array.from({ length: 47 }, (_, i) => deviceId("fleet", i + 1));
		await site.register([...sims, ...virtual]);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		for (const name of sims)
			boards.push(w.boot(w.device(name, v1, { server: site.url, ca: site.localCa })));
		const fleet = await fleetBehind(w, site, 47, "fleet");
		try {
			for (const board of boards)
				await board.waitFor(is("valid", { version: "2.0.0" }), 150_000, "the sim device's update through the gateway");
			await fleet.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 150_000);
		} finally {
			await fleet.stop();
		}
		await until("every device valid at the cloud", 60_000, () => allValidAtCloud(w, [...sims, ...virtual], "2.0.0"));
		t.is(w.server.sent.get(IMAGE_PATH), v2.length, "the image crossed the upstream other than once");
		t.is(gateway.upstream.imageBytes, v2.length);
		t.true(gateway.servedBytes >= 50 * v2.length, `the gateway served ${gateway.servedBytes} bytes, less than 50 images`);
		t.true(gateway.servedBytes <= 50 * v2.length + 3 * 16384, `the gateway served ${gateway.servedBytes - 50 * v2.length} bytes more than 50 images`);
		for (const id of [...sims, ...virtual])
			t.is(await w.store.gateways.gatewayOf(id), "gw-1");
		await until("the queue to drain", 30_000, async () => (await gateway.queued()) === 0 || undefined);
		// the sim devices' history at the cloud: their whole update, as they reported it through the gateway
		const history = (await w.store.history("sim-a")).map((entry) => entry.state).filter((state) => state !== "checked").reverse();
		t.deepEqual(history.slice(-3), ["downloading", "activating", "valid"]);
	} catch (error) {
		t.log(logs.slice(-30).join("\n"));
		throw error;
	} finally {
		for (const board of boards)
			await board.stop();
		await gateway.close();
		await w.stop();
	}
});

test.serial("two levels: cloud <- gateway <- gateway <- devices, each link carrying the image once", async (t) => {
	t.timeout(180_000);
	const w = await world();
	const logs: string[] = [];
	const outer = await GatewaySite.make(w, "gw-outer");
	const outerGateway = await outer.start((line) => logs.push(`outer: ${line}`));
	const inner = await GatewaySite.make(w, "gw-inner", { upstream: { url: outer.url, ca: outer.localCa } });
	const innerGateway = await inner.start((line) => logs.push(`inner: ${line}`));
	let board: Board | undefined;
	try {
		const { v1, v2 } = builds(w);
		const virtual = Array.from({ length: 6 }, (_, i) => deviceId("deep", i + 1));
		await outer.register(["gw-inner"]);
		await inner.register(["sim-deep", ...virtual]);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		board = w.boot(w.device("sim-deep", v1, { server: inner.url, ca: inner.localCa }));
		const fleet = await fleetBehind(w, inner, 6, "deep");
		try {
			await board.waitFor(is("valid", { version: "2.0.0" }), 120_000, "the sim device's update through two gateways");
			await fleet.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 120_000);
		} finally {
			await fleet.stop();
		}
		await until("every device valid at the cloud", 60_000, () => allValidAtCloud(w, ["sim-deep", ...virtual], "2.0.0"));
		t.is(w.server.sent.get(IMAGE_PATH), v2.length, "cloud -> outer gateway");
		t.is(outerGateway.upstream.imageBytes, v2.length);
		t.is(innerGateway.upstream.imageBytes, v2.length, "outer gateway -> inner gateway");
		t.true(outerGateway.servedBytes >= v2.length && outerGateway.servedBytes <= v2.length + 16384);
		t.true(innerGateway.servedBytes >= 7 * v2.length);
		t.is(await w.store.gateways.gatewayOf("sim-deep"), "gw-inner");
		t.is(await w.store.gateways.gatewayOf("gw-inner"), "gw-outer");
		await until("the queues to drain", 30_000, async () => (await innerGateway.queued()) + (await outerGateway.queued()) === 0 || undefined);
		// a device not registered behind the inner gateway gets nothing through the chain: the cloud refuses it
		await inner.register([]);
		const stray = await fleetBehind(w, inner, 1, "stray");
		try {
			await until("the stray device's refusal", 30_000, () => stray.devices[0]!.lastError !== undefined || stray.requests.counts.manifest > 1 || undefined);
		} finally {
			await stray.stop();
		}
		t.is(await w.store.device(deviceId("stray", 1)), undefined, "the cloud took a device not behind the chain");
	} catch (error) {
		t.log(logs.slice(-40).join("\n"));
		throw error;
	} finally {
		await board?.stop();
		await innerGateway.close();
		await outerGateway.close();
		await w.stop();
	}
});
