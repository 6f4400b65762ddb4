// The management server for the fleet benchmark, in a worker thread of its own, so that the server and the 10,000
// virtual devices each have a core and an event loop: a World (tools/demo/world.ts: CAs, vendor key, SQLite store)
// with each download paced at `rate` bytes a second and at most `limit` at once. It answers the bench's messages:
//   { type: "publish", version, sequence, image }  publishes a release staged, and rolls it out to every device
//   { type: "gate" }                               the download gate's peak and active counts
//   { type: "stop" }                               closes the server and the store
import { parentPort, workerData } from "node:worker_threads";
import { readFileSync } from "node:fs";
import { PRODUCT, World } from "../../tools/demo/world.js";

export interface FleetServerReady {
	type: "ready";
	url: string;
	serverCa: string;
	deviceCa: { cert: string; key: string };
	product: string;
	keys: { keyId: string; publicKey: string }[];
	limit: number;
}

const { dir, rate, limit } = workerData as { dir: string; rate: number; limit: number };
const world = new World(dir);
await world.start(undefined, rate);
if (world.server.gate?.limit !== limit)
	throw new Error(`the bench expects a download limit of ${limit}, the server has ${world.server.gate?.limit}`);
parentPort!.on("message", async (message: { type: string; version?: string; sequence?: number; image?: Uint8Array }) => {
	if (message.type === "publish") {
		// the release is staged, and a rollout of one stage (the whole fleet) takes it to every device, through the
		// rollout engine's gating as any rollout would
		await world.publish({ version: message.version!, sequence: message.sequence!, securityVersion: 1, image: Buffer.from(message.image!) }, { staged: true });
		await world.server.rollouts.create({ product: PRODUCT, version: message.version!, stages: [1], thresholds: { error: 0.5, minDevices: 100 } });
		parentPort!.postMessage({ type: "published" });
	}
	else if (message.type === "gate")
		parentPort!.postMessage({ type: "gate", peak: world.server.gate!.peak, active: world.server.gate!.active });
	else if (message.type === "stop") {
		await world.stop();
		parentPort!.postMessage({ type: "stopped" });
	}
});
const ready: FleetServerReady = {
	type: "ready",
	url: world.url,
	serverCa: readFileSync(world.certs.ca, "utf8"),
	deviceCa: world.deviceCa,
	product: PRODUCT,
	keys: [{ keyId: world.keyId, publicKey: Buffer.from(world.publicKey).toString("hex") }],
	limit,
};
parentPort!.postMessage(ready);
