// The policy of a staged rollout, apart from its state changes (as MCUboot keeps validation apart): which stage a
// device belongs to, and what a rollout's numbers call for next (open the next stage, halt, complete, or wait).
// Pure functions over plain numbers, so that the server, the fleet page and the tests all read the same verdict.
//   stages       cumulative shares of the target, rising to 1 (e.g. [0.01, 0.1, 0.5, 1]), or an exponential rate
//   placement    a device's place in [0, 1) is a hash of the rollout's id and the device's id: it stays in its stage
//                when the rollout is paused, resumed or retried, and a new rollout shuffles the fleet anew
import { createHash } from "node:crypto";

export interface Thresholds {
	/** share of a stage's devices that must succeed before the next stage opens, in (0, 1] */
	success: number;
	/** share of the finished devices whose failures halt the rollout, in [0, 1) */
	error: number;
	/** failures count towards the error threshold only once this many devices have finished */
	minDevices: number;
	/** a stage stays open at least this long before the next one opens, ms */
	soakMs: number;
}

/** Cumulative shares for an exponential rollout: `first`, then times `factor`, up to 1. */
export function exponentialStages(first: number, factor: number): number[] {
	if (!(first > 0 && first <= 1) || !(factor > 1))
		throw new RangeError("an exponential rollout needs a first share in (0, 1] and a factor above 1");
	const stages: number[] = [];
	for (let share = first; share < 1; share *= factor)
		stages.push(share);
	stages.push(1);
	return stages;
}

/** Checks stages: cumulative shares in (0, 1], strictly rising, the last one 1. */
export function checkStages(stages: readonly number[]): void {
	if (stages.length === 0 || stages.length > 32)
		throw new RangeError("a rollout has 1 to 32 stages");
	stages.forEach((share, i) => {
		if (!(share > 0 && share <= 1) || (i > 0 && !(share > stages[i - 1]!)))
			throw new RangeError(`stage ${i + 1}: the shares must rise strictly, from above 0 to 1 (got ${share})`);
	});
	if (stages.at(-1) !== 1)
		throw new RangeError("the last stage must take the whole target (1)");
}

/** A device's place in [0, 1) within a rollout: the first 8 bytes of SHA-256(rolloutId "\n" deviceId). */
export function placement(rolloutId: string, deviceId: string): number {
	const digest = createHash("sha256").update(`${rolloutId}\n${deviceId}`).digest();
	return Number(digest.readBigUInt64BE(0) >> 11n) / 2 ** 53;
}

/** The index of the stage a place in [0, 1) falls in: the first whose cumulative share is above it. */
export function stageAt(place: number, stages: readonly number[]): number {
	const index = stages.findIndex((share) => place < share);
	return index < 0 ? stages.length - 1 : index;
}

/** The index of the stage a device belongs to. */
export function stageOf(rolloutId: string, deviceId: string, stages: readonly number[]): number {
	return stageAt(placement(rolloutId, deviceId), stages);
}

export interface StageNumbers {
	/** devices of the target placed in this stage */
	devices: number;
	succeeded: number;
	/** rolled back, rejected, or silent past the timeout */
	failed: number;
	/** offered the release, no outcome yet */
	inProgress: number;
}

export type Verdict =
	| { action: "wait"; why: string }
	| { action: "open"; stage: number; cause: string }
	| { action: "halt"; cause: string }
	| { action: "complete"; cause: string };

const percent = (share: number) => `${(Math.round(share * 1000) / 10).toFixed(1)}%`;

/** What the numbers of the opened stages (0..opened) call for, at `now`, the current stage having opened at `openedAt`. */
export function judge(numbers: readonly StageNumbers[], opened: number, thresholds: Thresholds, openedAt: number, now: number): Verdict {
	const open = numbers.slice(0, opened + 1);
	const failed = open.reduce((sum, stage) => sum + stage.failed, 0);
	const finished = open.reduce((sum, stage) => sum + stage.failed + stage.succeeded, 0);
	if (finished >= thresholds.minDevices && finished > 0 && failed / finished > thresholds.error)
		return { action: "halt", cause: `halted: ${failed} of ${finished} failed (${percent(failed / finished)} > ${percent(thresholds.error)})` };
	if (numbers.every((stage) => stage.devices === 0))
		return { action: "wait", why: "no device of the target has checked in yet" }; // an empty target opens nothing
	const current = numbers[opened]!;
	const successShare = current.devices === 0 ? 1 : current.succeeded / current.devices;
	if (successShare < thresholds.success)
		return { action: "wait", why: `stage ${opened + 1}: ${current.succeeded} of ${current.devices} succeeded (${percent(successShare)} < ${percent(thresholds.success)})` };
	if (now - openedAt < thresholds.soakMs)
		return { action: "wait", why: `stage ${opened + 1}: soaking until ${Math.ceil((thresholds.soakMs - (now - openedAt)) / 1000)} s from now` };
	if (opened + 1 >= numbers.length)
		return { action: "complete", cause: `complete: ${open.reduce((sum, stage) => sum + stage.succeeded, 0)} succeeded, ${failed} failed` };
	return { action: "open", stage: opened + 1, cause: `stage ${opened + 2} opened: stage ${opened + 1} reached ${percent(successShare)} (≥ ${percent(thresholds.success)})` };
}
