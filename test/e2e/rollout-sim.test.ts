// A real sim device (the XS host, the real natives) in a staged rollout: it takes the release, fails its trial, rolls
// back, and its report halts the rollout with the reason; a device outside the opened stage never gets the manifest.
import test from "ava";
import { builds, is, withBoard, world } from "./lib.js";
import { PRODUCT } from "../../tools/demo/world.js";
import { stageOf } from "../../tools/server/rollout.js";

test.serial("a sim device's rollback counts towards the halt, with its reason", async (t) => {
	const w = await world();
	try {
		const { v1 } = builds(w);
		const v2 = w.firmware({ version: "2.0.0", fault: "fail" });
		await w.publish({ version: "1.0.0", sequence: 1, securityVersion: 1, image: v1 });
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 }, { staged: true });
		// two stages: the device in the first; another device, in the second, only ever checks in
		const stages = [0.5, 1];
		const names = Array.from({ length: 40 }, (_, i) => `sim-${i}`);
		const inside = names.find((name) => stageOf(`${PRODUCT}\n2`, name, stages) === 0)!;
		const outside = names.find((name) => stageOf(`${PRODUCT}\n2`, name, stages) === 1)!;
		let rollout!: Awaited<ReturnType<typeof w.server.rollouts.create>>;
		await withBoard(w, w.device(outside, v1), async (other) => {
			await withBoard(w, w.device(inside, v1), async (board) => {
				// both devices known to the server first (their checks name their versions): a stage with no known
				// device opens the next one at once, as an empty stage of a small fleet must
				const deadline = Date.now() + 20_000;
				while (!((await w.record(inside)) && (await w.record(outside))) && Date.now() < deadline)
					await new Promise((resolve) => setTimeout(resolve, 100));
				t.truthy(await w.record(outside), "the other device never checked in");
				rollout = await w.server.rollouts.create({ product: PRODUCT, version: "2.0.0", stages, thresholds: { error: 0, minDevices: 1, success: 1 } });
				const rollback = await board.waitFor((e) => e.type === "rollback" && e.from === "2.0.0", 40000, "the rollback");
				t.regex(rollback.reason, /selftest-failed/);
				await board.waitFor((e) => e.type === "report" && e.state === "rolled-back", 10000, "the report");
			});
			const deadline = Date.now() + 10000;
			while ((await w.server.rollouts.view(rollout.id))!.state !== "halted" && Date.now() < deadline)
				await new Promise((resolve) => setTimeout(resolve, 200));
			t.true(other.events.some(is("none")), "the other device checked in");
			t.false(other.events.some((e) => e.type === "manifest" && e.version === "2.0.0"), "a device outside the opened stage got the release's manifest");
		});
		const view = (await w.server.rollouts.view(rollout.id, true))!;
		t.is(view.state, "halted");
		t.is(view.cause, "halted: 1 of 1 failed (100.0% > 0.0%) in stage 1: 1 selftest-failed");
		t.deepEqual(view.failures, [{ reason: "selftest-failed", count: 1 }]);
		t.like((await w.record(inside)), { version: "1.0.0", state: "rolled-back", target: "2.0.0" });
	} finally {
		await w.stop();
	}
});
