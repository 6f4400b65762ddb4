// The gateway updates itself, end to end: its launcher (`xs-fota gateway-launch`, as the host's supervisor would run
// it) runs `xs-fota gateway`; the gateway's own software is published at the cloud as a release of its own product (a
// gzipped tar of the program, signed with the vendor's key).
//   - a good version: fetched, verified and unpacked by the gateway, applied by a restart, comes up and is the current
//     version; the cloud sees the gateway on it; the cache is kept (a device behind it updates after the restart with no
//     new download from the cloud);
//   - a version that does not come up (its program exits at once): rolled back to the last good one, never tried again,
//     the cloud told why; the gateway serves its devices again;
//   - a signed release of the gateway's product whose kind is not the gateway's: refused, never unpacked.
import test from "ava";
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { world } from "./lib.js";
import { asDevice, until } from "./gateway-lib.js";
import { PRODUCT, ROOT, type World } from "../../tools/demo/world.js";
import { GatewaySite } from "../../tools/demo/gateway-site.js";
import { deviceId, startFleet } from "../../tools/fleet/fleet.js";
import { fleetImage } from "../../tools/fleet/image.js";
import { publishRelease } from "../../tools/server/publish.js";
import { manifestPath } from "../../modules/fota/protocol.js";

const GATEWAY_PRODUCT = "xs-fota-gateway";

/** A release of the gateway's own software: this repository's program, or one whose CLI exits at once. */
function gatewayRelease(w: World, version: string, broken: boolean): Buffer {
	const out = join(w.dir, `gateway-${version}.tgz`);
	if (broken) {
		const dir = join(w.dir, `broken-${version}`);
		mkdirSync(join(dir, "bin"), { recursive: true });
		writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
		writeFileSync(join(dir, "bin/xs-fota.js"), "console.error('this build is broken'); process.exit(3);\n");
		execFileSync("tar", ["-czf", out, "-C", dir, "bin", "package.json"]);
	} else
		execFileSync("tar", ["-czf", out, "-C", ROOT, "bin", "package.json", "build/js/tools", "build/js/modules"]);
	return readFileSync(out);
}

async function publishGateway(w: World, version: string, sequence: number, image: Buffer): Promise<void> {
	const signed = w.sign({ version, sequence, securityVersion: 1, image, kind: "node", file: `gateway-${version}.tgz` }, { product: GATEWAY_PRODUCT });
	const published = await publishRelease(w.store, w.images, GATEWAY_PRODUCT, signed, image, new Date());
	if (!published.ok)
		throw new Error(`publish the gateway ${version}: ${published.error}: ${published.detail}`);
}

test.serial("the gateway updates itself by a restart that keeps its cache, and rolls back a version that does not come up", async (t) => {
	t.timeout(240_000);
	const w = await world();
	await w.store.addProduct(GATEWAY_PRODUCT, new Date());
	await w.store.addKey(GATEWAY_PRODUCT, w.keyId, Buffer.from(w.publicKey).toString("hex"));
	const site = await GatewaySite.make(w, "gw-self", { self: { product: GATEWAY_PRODUCT, installed: "1.0.0", trialSeconds: 30 } });
	const stateFile = join(site.dir, "state", "self", "state.json");
	const selfState = () => existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, "utf8")) : undefined;
	let output = "";
	const launcher = spawn(process.execPath, [join(ROOT, "bin/xs-fota.js"), "gateway-launch", "--config", site.configFile], { stdio: ["ignore", "pipe", "pipe"] });
	launcher.stdout!.on("data", (chunk) => { output += chunk; });
	launcher.stderr!.on("data", (chunk) => { output += chunk; });
	const servings = () => output.split("\n").filter((line) => /^gateway gw-self serving at/.test(line)).length;
	try {
		await until("the gateway to serve", 30_000, () => servings() >= 1);
		// a device update through the installed version: the image is in the cache
		const image = fleetImage("2.0.0", 64 * 1024);
		await site.register([deviceId("before", 1), deviceId("after", 1)]);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image });
		const fleetOptions = (prefix: string) => ({ server: site.url, serverCa: site.localCa, deviceCa: w.deviceCa, product: PRODUCT, count: 1, idPrefix: prefix, version: "1.0.0",
			keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }], pollSeconds: 1, jitter: 0.2, config: { backoffSeconds: 0.5, maxBackoffSeconds: 1 } });
		const before = await startFleet(fleetOptions("before"));
		await before.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 60_000).finally(() => before.stop());
		const deviceImage = `/v1/products/${PRODUCT}/firmware-2.0.0.bin`;
		t.is(w.server.sent.get(deviceImage), image.length);

		// the gateway's 2.0.0: fetched, verified, unpacked, applied by a restart, up, current
		await publishGateway(w, "2.0.0", 2, gatewayRelease(w, "2.0.0", false));
		await until("the gateway to run 2.0.0 as its current version", 90_000, () => selfState()?.current?.version === "2.0.0" && !selfState()?.pending);
		// the 2.0.0 gateway's first poll names its version before its "valid" report follows: wait for the report
		await until("the cloud to see the gateway valid on 2.0.0", 30_000, async () => {
			const record = await w.record("gw-self");
			return (record?.version === "2.0.0" && record.state === "valid") || undefined;
		});
		t.like(await w.record("gw-self"), { product: GATEWAY_PRODUCT, version: "2.0.0", state: "valid" });
		t.regex(output, /launcher: starting gateway 2\.0\.0 \(pending: on trial\)/);
		t.true(existsSync(join(site.dir, "state", "images", createHash("sha256").update(image).digest("hex"))), "the restart lost the cache");
		const after = await startFleet(fleetOptions("after"));
		await after.waitFor((f) => f.devices.every((device) => device.version === "2.0.0" && device.state === "valid"), 60_000).finally(() => after.stop());
		t.is(w.server.sent.get(deviceImage), image.length, "the device image was fetched again after the restart");

		// a 3.0.0 that does not come up: rolled back to 2.0.0, marked failed, the cloud told why
		const up = servings();
		await publishGateway(w, "3.0.0", 3, gatewayRelease(w, "3.0.0", true));
		await until("the rollback of 3.0.0", 90_000, () => selfState()?.failed?.includes("3.0.0") || undefined);
		await until("2.0.0 to serve again", 30_000, () => servings() > up);
		t.like(selfState(), { current: { version: "2.0.0" }, failed: ["3.0.0"] });
		await until("the cloud to learn of the rollback", 30_000, async () => (await w.record("gw-self"))?.state === "rolled-back" || undefined);
		t.like(await w.record("gw-self"), { version: "2.0.0", target: "3.0.0", lastError: "new-version-did-not-start: exited with 3" });
		const manifest = await asDevice(site, w, deviceId("after", 1), manifestPath(PRODUCT), { headers: { "x-fota-version": "2.0.0" } });
		t.is(manifest.status, 200, "the gateway does not serve its devices after the rollback");
		// and 3.0.0 is not tried again
		const seen = (await w.record("gw-self"))!.lastSeen;
		await until("two more self-checks", 30_000, async () => {
			const now = (await w.record("gw-self"))!.lastSeen;
			return now > seen && Date.parse(now) - Date.parse(seen) > 2500 || undefined;
		});
		t.is(output.split("\n").filter((line) => /starting gateway 3\.0\.0/.test(line)).length, 1);

		// a release of the gateway's product that is not the gateway's kind (a device image published there by mistake,
		// signed all the same): refused, never unpacked or run
		const image4 = gatewayRelease(w, "4.0.0", false);
		const signed = w.sign({ version: "4.0.0", sequence: 4, securityVersion: 1, image: image4, kind: "sim", file: "gateway-4.0.0.tgz" }, { product: GATEWAY_PRODUCT });
		t.true((await publishRelease(w.store, w.images, GATEWAY_PRODUCT, signed, image4, new Date())).ok);
		await until("the wrong kind refused", 30_000, () => /self-update: wrong-kind: xs-fota-gateway 4\.0\.0 is a "sim" image/.test(output) || undefined);
		t.false(/starting gateway 4\.0\.0/.test(output));
		t.false(existsSync(join(site.dir, "state", "self", "releases", "4.0.0")));
		t.like(selfState(), { current: { version: "2.0.0" } });
	} catch (error) {
		t.log(output.split("\n").slice(-40).join("\n"));
		throw error;
	} finally {
		const exited = new Promise((resolve) => launcher.once("exit", resolve));
		launcher.kill("SIGTERM");
		await exited;
		await w.stop();
	}
});
