// tools/server/rollout.ts: stages by a stable hash, and the verdicts a rollout's numbers call for.
import test from "ava";
import { checkStages, exponentialStages, judge, placement, stageOf, type StageNumbers, type Thresholds } from "../../tools/server/rollout.js";

const STAGES = [0.01, 0.1, 0.5, 1];
const ids = Array.from({ length: 10_000 }, (_, i) => `device-${i}`);

test("a device's stage is stable for a rollout, and the stages hold about their shares of the fleet", (t) => {
	const counts = [0, 0, 0, 0];
	for (const id of ids)
		counts[stageOf("r-1", id, STAGES)]!++;
	t.deepEqual(ids.slice(0, 50).map((id) => stageOf("r-1", id, STAGES)), ids.slice(0, 50).map((id) => stageOf("r-1", id, STAGES)));
	const shares = [0.01, 0.09, 0.4, 0.5];
	counts.forEach((count, i) => t.true(Math.abs(count / ids.length - shares[i]!) < 0.02, `stage ${i + 1}: ${count}`));
	// another rollout places the fleet anew
	const moved = ids.filter((id) => stageOf("r-1", id, STAGES) !== stageOf("r-2", id, STAGES)).length;
	t.true(moved > ids.length * 0.3);
	t.true(ids.every((id) => placement("r-1", id) >= 0 && placement("r-1", id) < 1));
});

test("stages: percentages checked, exponential rates built", (t) => {
	t.notThrows(() => checkStages(STAGES));
	for (const bad of [[], [0.5, 0.4, 1], [0.1, 0.5], [0, 1], [0.5, 1, 1], [0.2, 1.5]])
		t.throws(() => checkStages(bad), { instanceOf: RangeError }, JSON.stringify(bad));
	t.deepEqual(exponentialStages(0.01, 10), [0.01, 0.1, 1]);
	t.is(exponentialStages(0.01, 2).length, 8);
	t.throws(() => exponentialStages(0, 2), { instanceOf: RangeError });
});

const T: Thresholds = { success: 0.9, error: 0.05, minDevices: 10, soakMs: 60_000 };
const stage = (devices: number, succeeded: number, failed: number, inProgress = 0): StageNumbers => ({ devices, succeeded, failed, inProgress });

test("the verdicts: wait for success, soak, open the next stage, complete", (t) => {
	t.like(judge([stage(10, 5, 0, 5), stage(90, 0, 0)], 0, T, 0, 1000), { action: "wait" });
	t.like(judge([stage(10, 10, 0), stage(90, 0, 0)], 0, T, 0, 1000), { action: "wait" }, "opened before its soak time");
	t.deepEqual(judge([stage(10, 10, 0), stage(90, 0, 0)], 0, T, 0, 61_000), { action: "open", stage: 1, cause: "stage 2 opened: stage 1 reached 100.0% (≥ 90.0%)" });
	t.like(judge([stage(10, 10, 0), stage(90, 88, 0, 2)], 1, T, 0, 61_000), { action: "complete" });
	t.like(judge([stage(0, 0, 0), stage(90, 0, 0)], 0, { ...T, soakMs: 0 }, 0, 0), { action: "open", stage: 1 }, "an empty stage does not hold the rollout");
	t.deepEqual(judge([stage(0, 0, 0), stage(0, 0, 0)], 0, { ...T, soakMs: 0 }, 0, 0), { action: "wait", why: "no device of the target has checked in yet" },
		"an empty target neither opens stages nor completes");
});

test("the halt: failures past the error threshold, counted only after the minimum number of devices, with the cause", (t) => {
	t.like(judge([stage(10, 0, 3, 7)], 0, { ...T, minDevices: 10 }, 0, 0), { action: "wait" }, "halted on 3 devices, fewer than the minimum");
	t.deepEqual(judge([stage(10, 7, 3)], 0, T, 0, 0), { action: "halt", cause: "halted: 3 of 10 failed (30.0% > 5.0%)" });
	t.deepEqual(judge([stage(10, 10, 0), stage(90, 46, 7, 37)], 1, T, 0, 0), { action: "halt", cause: "halted: 7 of 63 failed (11.1% > 5.0%)" });
	t.like(judge([stage(10, 10, 0), stage(90, 60, 3, 27)], 1, T, 0, 0), { action: "wait" }, "3 of 73 is under 5%");
});
