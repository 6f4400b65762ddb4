// A gateway end to end on loopback: 1 cloud (the management server), 1 gateway (tools/gateway, in this process), and
// 50 devices behind it: 3 sim boards (the XS sim host running the example firmware) and 47 virtual devices
// (tools/fleet, the real client), all updating to one release (a 256 KiB sim image). Measured in one run:
//   gateway_upstream_image_bytes_over_image_size       image bytes the cloud sent, over the image's size: ~1, the
//                                                      image crosses the upstream link once
//   gateway_local_bytes_over_devices_times_image_size  image bytes the gateway served, over 50 × the image's size: ~1,
//                                                      each device gets it once, from the cache
//   gateway_update_seconds                             from the release's publication to every device valid at the
//                                                      cloud (their reports forwarded through the queue)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PRODUCT, World } from "../tools/demo/world.js";
import { GatewaySite } from "../tools/demo/gateway-site.js";
import type { Board } from "../tools/demo/board.js";
import { deviceId, startFleet } from "../tools/fleet/fleet.js";
import { round } from "./lib/stats.js";

const SIMS = 3;
const VIRTUAL = 47;

export async function run({ log }: { log: (line: string) => void }): Promise<Record<string, number>> {
	const w = new World(mkdtempSync(join(tmpdir(), "xs-fota-bench-gateway-")));
	await w.start();
	const site = await GatewaySite.make(w, "gw-bench");
	const gateway = await site.start();
	const boards: Board[] = [];
	try {
		const v1 = w.firmware({ version: "1.0.0" });
		const v2 = w.firmware({ version: "2.0.0", padTo: 256 * 1024 });
		const sims = Array.from({ length: SIMS }, (_, i) => `bench-sim-${i + 1}`);
		const virtual = Array.from({ length: VIRTUAL }, (_, i) => deviceId("bench", i + 1));
		const all = [...sims, ...virtual];
		await site.register(all);
		const started = performance.now();
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		for (const name of sims)
			boards.push(w.boot(w.device(name, v1, { server: site.url, ca: site.localCa })));
		const fleet = await startFleet({
			server: site.url, serverCa: site.localCa, deviceCa: w.deviceCa, product: PRODUCT, count: VIRTUAL, idPrefix: "bench", version: "1.0.0",
			keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.5,
			config: { backoffSeconds: 0.5, maxBackoffSeconds: 2, timeoutSeconds: 10, chunkBytes: 16384 },
		});
		try {
			const deadline = Date.now() + 300_000;
			for (;;) {
				const records = await Promise.all(all.map((id) => w.store.device(id)));
				if (records.every((record) => record?.version === "2.0.0" && record.state === "valid"))
					break;
				if (Date.now() > deadline)
					throw new Error(`gateway bench: not every device valid at the cloud within 300 s (${records.filter((record) => record?.state === "valid").length} of ${all.length})`);
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		} finally {
			await fleet.stop();
		}
		const seconds = (performance.now() - started) / 1000;
		const upstream = w.server.sent.get(`/v1/products/${PRODUCT}/firmware-2.0.0.bin`) ?? 0;
		log(`${all.length} devices (${SIMS} sim boards, ${VIRTUAL} virtual) updated through the gateway in ${round(seconds, 1)} s; image ${v2.length} bytes; cloud sent ${upstream}, gateway served ${gateway.servedBytes}`);
		return {
			gateway_upstream_image_bytes_over_image_size: round(upstream / v2.length, 3),
			gateway_local_bytes_over_devices_times_image_size: round(gateway.servedBytes / (all.length * v2.length), 3),
			gateway_update_seconds: round(seconds, 1),
		};
	} finally {
		for (const board of boards)
			await board.stop();
		await gateway.close();
		await w.stop();
	}
}
