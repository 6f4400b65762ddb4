// End to end: tiny idle polls on the simulated board (the compiled client, libcurl) against the real server. An
// up-to-date device's polls become 304s once it has judged the manifest; a release published between two polls comes
// whole and is installed; after the update the new firmware's first poll names no ETag (its state changed).
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World } from "../../tools/demo/world.js";

test("an up-to-date board polls conditionally and gets 304s; a new release between polls is taken", async (t) => {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-e2e-poll-")));
	await world.start();
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0" });
		await world.publish({ version: "1.0.0", sequence: 1, securityVersion: 1, image: v1 });
		const board = world.boot(world.device("dev-p", v1));
		try {
			const nones = () => board.events.filter((e) => e.type === "none").map((e) => e.why);
			await board.waitFor(() => nones().length >= 3, 30000, "three idle polls");
			t.is(nones()[0], "up-to-date", "the first poll judges the manifest");
			t.true(nones().slice(1).every((why) => why === "not-modified"), nones().join(", "));
			await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
			await board.waitFor((e) => e.type === "valid" && e.version === "2.0.0", 30000, "v2 confirmed");
			const after = board.events.length;
			await board.waitFor((e) => e.type === "none" && board.events.indexOf(e) >= after, 30000, "v2's first idle poll");
			t.is(board.events.slice(after).find((e) => e.type === "none")!.why, "up-to-date", "a new firmware judges the manifest again");
			await board.waitFor((e) => e.type === "none" && e.why === "not-modified" && board.events.indexOf(e) > after, 30000, "v2's first 304");
		} finally {
			await board.stop();
		}
		t.false(board.events.some((e) => e.type === "error"), JSON.stringify(board.events.filter((e) => e.type === "error")));
		t.like(await world.record("dev-p"), { version: "2.0.0", state: "valid" });
	} finally {
		await world.stop();
	}
});
