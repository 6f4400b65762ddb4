// A gateway killed with SIGKILL (`xs-fota gateway` as its own process), mid-queue and mid-download, between a real
// management server (its link to the gateway a test proxy that can be cut) and virtual devices:
//   - 40 reports taken while the upstream is cut, the gateway killed: after its restart all 40 are still queued, and
//     once the link returns each reaches the cloud once, in the order the devices sent them;
//   - killed while it fetches an image (the cloud paces it): after the restart the fetch resumes where it stopped (a
//     Range request; the image crosses the link about once), and the devices update from verified bytes;
//   - a cached image altered while the gateway is down (a torn write): at the restart it is hashed, found wrong and
//     dropped, never served; it is fetched again and a new device updates from it.
import test from "ava";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { allValidAtCloud, asDevice, until } from "./gateway-lib.js";
import { PRODUCT, World } from "../../tools/demo/world.js";
import { GatewaySite } from "../../tools/demo/gateway-site.js";
import { deviceId, startFleet, type Fleet } from "../../tools/fleet/fleet.js";
import { fleetImage } from "../../tools/fleet/image.js";
import { reportPath } from "../../modules/fota/protocol.js";
import { Link } from "../node/lib/link.js";

const SIZE = 1024 * 1024;
const IMAGE = fleetImage("2.0.0", SIZE);
const SHA256 = createHash("sha256").update(IMAGE).digest("hex");
const IMAGE_PATH = `/v1/products/${PRODUCT}/firmware-2.0.0.bin`;

async function kill(child: ChildProcess): Promise<void> {
	const exited = new Promise((resolve) => child.once("exit", resolve));
	child.kill("SIGKILL");
	await exited;
}

/** The gateway's queue as its file holds it (read from outside the process, as it stands after a kill). */
function queued(site: GatewaySite): number {
	const db = new Database(join(site.dir, "state", "state.db"), { readonly: true });
	try {
		return (db.prepare("select count(*) as n from queue").get() as { n: number }).n;
	} finally {
		db.close();
	}
}

test.serial("SIGKILL mid-queue, mid-download and with a torn cache: nothing lost, nothing unverified served", async (t) => {
	t.timeout(240_000);
	const w = new World(mkdtempSync(join(tmpdir(), "xs-fota-gateway-kill-")));
	const cloudLog: string[] = [];
	await w.start((line) => cloudLog.push(line), 256 * 1024); // images paced: a fetch lasts 4 s, long enough to be killed in
	const link = new Link(Number(new URL(w.url).port));
	await link.listen();
	const site = await GatewaySite.make(w, "gw-k", { upstream: { url: link.url, ca: readFileSync(w.certs.ca, "utf8") }, batchSize: 5, syncSeconds: 1, timeoutSeconds: 3 });
	const ids = Array.from({ length: 8 }, (_, i) => deviceId("kept", i + 1));
	await site.register([...ids, deviceId("late", 1)]);
	let child = await site.spawn();
	const fleets: Fleet[] = [];
	const fleet = async (count: number, prefix = "kept") => {
		const made = await startFleet({
			server: site.url, serverCa: site.localCa, deviceCa: w.deviceCa, product: PRODUCT, count, idPrefix: prefix, version: "1.0.0",
			keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.3,
			config: { backoffSeconds: 0.5, maxBackoffSeconds: 2, timeoutSeconds: 10 },
		});
		fleets.push(made);
		return made;
	};
	try {
		// ---- mid-queue: 40 reports taken while the link is cut, then SIGKILL
		link.cut();
		const sent: Record<string, string[]> = {};
		for (let round = 1; round <= 5; round++)
			for (const id of ids) {
				const error = `report ${round} of ${id}`;
				const answer = await asDevice(site, w, id, reportPath(id), { method: "POST", json: { product: PRODUCT, version: "1.0.0", state: "interrupted", error } });
				t.is(answer.status, 204, answer.body.toString());
				(sent[id] ??= []).push(error);
			}
		await kill(child);
		t.is(queued(site), 40, "reports taken (204) were lost to the kill");
		child = await site.spawn();
		t.is(queued(site), 40);
		link.restore();
		// and killed again while it forwards, if the queue is caught part way
		let midForward = false;
		for (let i = 0; i < 2000 && queued(site) > 0; i++) {
			if (queued(site) < 40) {
				await kill(child);
				midForward = queued(site) > 0;
				child = await site.spawn();
				break;
			}
			await new Promise((resolve) => setTimeout(resolve, 5));
		}
		t.log(`killed while forwarding: ${midForward}`);
		await until("the queue to drain", 60_000, () => queued(site) === 0);
		for (const id of ids) {
			const history = (await w.store.history(id)).filter((entry) => entry.state === "interrupted").map((entry) => entry.error).reverse();
			t.deepEqual(history, sent[id], `${id}'s reports at the cloud: none lost, none twice, in order`);
		}

		// ---- mid-download: the gateway is fetching the image for the devices when it is killed
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: IMAGE });
		const devices = await fleet(8);
		const part = join(site.dir, "state", "partial", `${SHA256}.part`);
		const reached = await until("the fetch to be part way", 60_000, () => existsSync(part) && statSync(part).size > SIZE / 4 && statSync(part).size);
		await kill(child);
		t.true(reached < SIZE, "the fetch ended before the kill");
		t.false(existsSync(join(site.dir, "state", "images", SHA256)), "an unfinished image is in the served folder");
		child = await site.spawn();
		await devices.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 120_000);
		const crossed = w.server.sent.get(IMAGE_PATH)!;
		t.true(crossed >= SIZE && crossed < SIZE * 1.25, `the image crossed the link ${crossed / SIZE} times: the fetch was not resumed`);
		t.true(cloudLog.some((line) => new RegExp(`^206 ${IMAGE_PATH} [1-9]\\d*-${SIZE - 1}$`).test(line)), "no Range request resumed the fetch");
		await until("every device valid at the cloud", 60_000, () => allValidAtCloud(w, ids, "2.0.0"));
		for (const id of ids)
			t.false((await w.store.history(id)).some((entry) => entry.state === "rejected"), `${id} was served bytes that failed its checks`);
		await devices.stop();

		// ---- a torn cache: a byte of the cached image changes while the gateway is down
		await kill(child);
		const cached = join(site.dir, "state", "images", SHA256);
		const bytes = readFileSync(cached);
		bytes[SIZE / 2] ^= 0x01;
		writeFileSync(cached, bytes);
		child = await site.spawn();
		t.regex(readFileSync(join(site.dir, "gateway.log"), "utf8"), new RegExp(`cache: ${SHA256} does not verify or is not indexed; removed`));
		t.false(existsSync(cached) && readFileSync(cached).equals(bytes), "the altered image is still in the served folder");
		const late = await fleet(1, "late");
		await late.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 120_000);
		t.true(w.server.sent.get(IMAGE_PATH)! >= crossed + SIZE, "the altered image was not fetched again");
		t.is(createHash("sha256").update(readFileSync(cached)).digest("hex"), SHA256);
	} catch (error) {
		t.log(readFileSync(join(site.dir, "gateway.log"), "utf8").split("\n").slice(-30).join("\n"));
		throw error;
	} finally {
		for (const made of fleets)
			await made.stop();
		if (child.exitCode === null)
			await kill(child);
		await link.close();
		await w.stop();
	}
});
