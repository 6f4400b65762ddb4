// End to end: a sim device on the simulated board updates itself from the real server over loopback HTTPS.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World } from "../../tools/demo/world.js";
import { readDeviceConfig } from "../../tools/sim/flash.js";
import { createHash } from "node:crypto";

test("v1 -> v2: downloaded, verified, activated, trial passed, confirmed and reported", async (t) => {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-e2e-")));
	await world.start();
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0" });
		await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const flash = world.device("dev-a", v1);
		const board = world.boot(flash);
		try {
			await board.waitFor((e) => e.type === "valid" && e.version === "2.0.0", 30000, "v2 confirmed");
			await board.waitFor((e) => e.type === "report" && e.state === "valid", 10000, "the valid report");
		} finally {
			await board.stop();
		}
		const types = board.events.map((e) => e.type);
		for (const type of ["boot", "check", "manifest", "progress", "verified", "activate", "reboot", "selftest", "valid", "report"])
			t.true(types.includes(type), `no ${type} event`);
		const boots = board.events.filter((e) => e.type === "boot");
		t.like(boots[0], { slot: 0, version: "1.0.0" });
		t.like(boots[1], { slot: 1, version: "2.0.0", state: "pending-verify" });
		t.false(types.includes("bricked"));
		const record = await world.record("dev-a");
		t.like(record, { version: "2.0.0", state: "valid" });
		// the config backup: the SHA-256 of the config the device runs, and its non-secret fields
		t.is(record!.configSha256, createHash("sha256").update(readDeviceConfig(flash)!).digest("hex"));
		t.like(record!.config, { deviceId: "dev-a", product: "demo-board", server: world.url, keyIds: world.keyId, pollSeconds: 1 });
		// the timeline, oldest first: checked, downloading, activating, checked (v2's trial), valid
		const timeline = (await world.store.history("dev-a")).map((r) => `${r.state} ${r.version}`).reverse();
		t.deepEqual(timeline.filter((entry) => !entry.startsWith("checked")), ["downloading 1.0.0", "activating 1.0.0", "valid 2.0.0"]);
		// the first check made the device known (it names its version in x-fota-version), before any report
		t.deepEqual(timeline.slice(0, 2), ["checked 1.0.0", "downloading 1.0.0"]);
		for (const secret of ["clientKey", "clientCertificates", "ca", "keys"])
			t.false(secret in record!.config!, `${secret} was reported`);
	} finally {
		await world.stop();
	}
});
