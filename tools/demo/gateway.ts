// npm run demo:gateway: a cloud, a gateway and sim devices behind it, on this machine. The devices never talk to the
// cloud: their configs name the gateway (its own certificate, from its own local CA). The gateway asks the cloud on
// each device's behalf, passes the signed manifest on unchanged, fetches the image once, verifies it before serving a
// byte, and forwards the devices' reports from its queue; the cloud's inventory shows which gateway each device is
// behind. Also 20 virtual devices (tools/fleet) behind the same gateway, for numbers.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { World, ROOT, PRODUCT } from "./world.js";
import { GatewaySite } from "./gateway-site.js";
import type { Board } from "./board.js";
import { deviceId, startFleet } from "../fleet/fleet.js";

const SIMS = ["shelf-1", "shelf-2", "shelf-3"];
const VIRTUAL = 20;

function say(text: string): void {
	console.log(text);
}

async function main(): Promise<number> {
	const started = performance.now();
	const dir = join(ROOT, "build/demo-gateway");
	rmSync(dir, { recursive: true, force: true });
	say("xs-fota gateway demo: devices behind a gateway update from the cloud, each image crossing the uplink once");

	say("\n1. Build the example firmware as sim images: v1.0.0 and v2.0.0");
	const world = new World(dir);
	const v1 = world.firmware({ version: "1.0.0" });
	const v2 = world.firmware({ version: "2.0.0", padTo: 256 * 1024 });
	say(`  v1.0.0 ${v1.length} bytes; v2.0.0 ${v2.length} bytes`);

	say("\n2. Start the cloud (the management server) and a gateway gw-demo: its own device certificate for the cloud, its own local certificate for its devices");
	await world.start();
	const site = await GatewaySite.make(world, "gw-demo");
	const gateway = await site.start((line) => { if (/^cache: |^report shelf-/.test(line)) say(`  gateway  ${line}`); });
	const virtual = Array.from({ length: VIRTUAL }, (_, i) => deviceId("floor", i + 1));
	await site.register([...SIMS, ...virtual]);
	say(`  cloud at ${world.url}; gateway at ${site.url} (upstream ${world.url}); ${SIMS.length + VIRTUAL} devices registered behind gw-demo at the cloud`);

	say(`\n3. Provision ${SIMS.join(", ")} (sim boards) and ${VIRTUAL} virtual devices with v1.0.0; their configs name the gateway, not the cloud`);
	const boards: Board[] = [];
	try {
		for (const name of SIMS)
			boards.push(world.boot(world.device(name, v1, { server: site.url, ca: site.localCa }), {
				onEvent: (e) => { if (["manifest", "verified", "activate", "valid", "reject"].includes(e.type)) say(`  ${name.padEnd(8)} ${e.type} ${e.version ?? e.reason ?? ""}`); },
			}));
		const fleet = await startFleet({
			server: site.url, serverCa: site.localCa, deviceCa: world.deviceCa, product: PRODUCT, count: VIRTUAL, idPrefix: "floor", version: "1.0.0",
			keys: [{ keyId: world.keyId, publicKey: Buffer.from(world.publicKey).toString("hex") }], pollSeconds: 2, jitter: 0.5,
		});
		try {
			say("\n4. Publish v2.0.0 at the cloud");
			await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
			for (const board of boards)
				await board.waitFor((e) => e.type === "valid" && e.version === "2.0.0", 90_000, "v2 valid");
			await fleet.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 90_000);
		} finally {
			await fleet.stop();
		}
		const deadline = Date.now() + 30_000;
		while ((await gateway.queued()) > 0 && Date.now() < deadline)
			await new Promise((resolve) => setTimeout(resolve, 100));

		say("\n5. What the cloud knows, and what crossed the uplink");
		for (const name of [...SIMS, virtual[0]!]) {
			const record = await world.record(name);
			say(`  ${name.padEnd(12)} ${record?.version} ${record?.state}, behind ${await world.store.gateways.gatewayOf(name)}`);
		}
		const upstream = world.server.sent.get(`/v1/products/${PRODUCT}/firmware-2.0.0.bin`) ?? 0;
		say(`  the cloud sent the image ${(upstream / v2.length).toFixed(2)} times (${upstream} bytes); the gateway served it ${(gateway.servedBytes / v2.length).toFixed(2)} times to ${SIMS.length + VIRTUAL} devices`);
	} finally {
		for (const board of boards)
			await board.stop();
		await gateway.close();
		await world.stop();
	}
	say(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s. The devices' logs and the gateway's state are in ${dir}/.`);
	return 0;
}

process.exitCode = await main().catch((error) => {
	console.error(`xs-fota gateway demo: ${(error as Error).message}`);
	return 1;
});
