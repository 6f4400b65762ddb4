// Issue 15: a release whose image is not the firmware it promises (last week's build uploaded as 2.0.0, or a build
// for another kind) boots pending, fails its trial with wrong-image, and is rolled back; v1 reports why.
import test from "ava";
import { builds, is, withBoard, world } from "./lib.js";

for (const [what, wrong, reason] of [
	["reports 1.0.0", { version: "1.0.0" }, /wrong-image: the manifest promised 2\.0\.0, the image reports 1\.0\.0/],
	["is a lin build", { version: "2.0.0", kind: "lin" }, /wrong-image: the manifest promised a sim image, this firmware is lin/],
] as const) {
	test.serial(`an image published as 2.0.0 that ${what}: wrong-image, rolled back, reported`, async (t) => {
		const w = await world();
		try {
			const { v1 } = builds(w);
			const image = w.firmware(wrong);
			await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image });
			const name = `wrong-${"kind" in wrong ? "kind" : "version"}`;
			await withBoard(w, w.device(name, v1), async (board) => {
				const rollback = await board.waitFor((e) => e.type === "rollback" && e.from === "2.0.0", 30000, "the rollback");
				t.regex(rollback.reason, reason);
				t.is(rollback.to, "1.0.0");
				await board.waitFor((e) => e.type === "report" && e.state === "rolled-back", 10000, "the report");
				t.false(board.events.some(is("valid")), "the wrong image was confirmed");
				t.false(board.events.some((e) => e.type === "selftest" && e.result === "start"), "a self-test ran on the wrong image");
				const boots = board.events.filter(is("boot"));
				t.like(boots.at(-2), { slot: 1, state: "pending-verify" });
				t.like(boots.at(-1), { slot: 0, version: "1.0.0", state: "valid" });
			});
			t.like((await w.record(name)), { version: "1.0.0", state: "rolled-back", target: "2.0.0" });
			t.regex((await w.record(name))!.lastError!, reason);
		} finally {
			await w.stop();
		}
	});
}
