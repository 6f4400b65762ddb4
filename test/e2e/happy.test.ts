// End to end: a sim device on the simulated board updates itself from the real server over loopback HTTPS.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World } from "../../tools/demo/world.js";

test("v1 -> v2: downloaded, verified, activated, trial passed, confirmed and reported", async (t) => {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-e2e-")));
	await world.start();
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0" });
		await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const board = world.boot(world.device("dev-a", v1));
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
		t.like((await world.record("dev-a")), { version: "2.0.0", state: "valid" });
	} finally {
		await world.stop();
	}
});
