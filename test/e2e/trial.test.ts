// The trial of a new image on the board: v3 fails, hangs or crashes, and the device is back on v2 with the reason.
// A hold from the app defers the reboot of an update until it is released.
import test from "ava";
import { builds, is, types, withBoard, world } from "./lib.js";

for (const [fault, reason] of [
	["fail", /selftest-failed: sensor: sensor reads out of range/],
	["hang", /selftest-crashed-or-hung/],
	["crash", /selftest-crashed-or-hung/],
] as const) {
	test.serial(`v3 whose self-test ${fault === "fail" ? "fails" : fault === "hang" ? "hangs" : "crashes"}: rolled back to v2, reason reported`, async (t) => {
		const w = await world();
		try {
			const { v1, v2 } = builds(w);
			const v3 = w.firmware({ version: "3.0.0", fault });
			await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
			await withBoard(w, w.device(`bad-${fault}`, v1), async (board) => {
				await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed");
				await w.publish({ version: "3.0.0", sequence: 3, securityVersion: 2, image: v3 });
				const rollback = await board.waitFor((e) => e.type === "rollback" && e.from === "3.0.0", 30000, "the rollback");
				t.regex(rollback.reason, reason);
				t.is(rollback.to, "2.0.0");
				await board.waitFor((e) => e.type === "report" && e.state === "rolled-back", 10000, "the report");
				const boots = board.events.filter(is("boot"));
				t.like(boots.at(-1), { slot: 1, version: "2.0.0", state: "valid" });
				t.like(boots.at(-2), { slot: 0, version: "3.0.0", state: "pending-verify" });
				if (fault === "hang")
					t.true(types(board).includes("watchdog"), "the hang was not ended by the watchdog");
				// the failed release is not fetched again
				const skipped = await board.waitFor((e) => e.type === "none" && e.why === "previously-failed", 10000, "the failed release skipped");
				t.false(board.events.some((e) => e.type === "progress" && e.t > skipped.t), "the failed release was downloaded again");
			});
			t.like((await w.record(`bad-${fault}`)), { version: "2.0.0", state: "rolled-back", target: "3.0.0" });
			t.regex((await w.record(`bad-${fault}`))!.lastError!, reason);
		} finally {
			await w.stop();
		}
	});
}

test.serial("a hold from the app defers the activation and reboot until it is released", async (t) => {
	const w = await world();
	try {
		const { v2 } = builds(w);
		const v1 = w.firmware({ version: "1.0.0", criticalAfterMs: 50, criticalForMs: 2500 });
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		await withBoard(w, w.device("held", v1), async (board) => {
			await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed");
			const hold = board.events.find(is("hold"))!;
			const held = board.events.find((e) => e.type === "held" && e.reason === "app")!;
			const release = board.events.find(is("release"))!;
			const activate = board.events.find(is("activate"))!;
			t.truthy(hold && held && release && activate);
			t.true(held.t < release.t && release.t <= activate.t, "activated while held");
			t.true(release.t - hold.t >= 2400);
		});
	} finally {
		await w.stop();
	}
});
