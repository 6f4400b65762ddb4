// The seeded power-cut campaign (issue 9): 320 updates of a sim board from v1 to v2 against the real server, each
// with one power cut (200 runs) or two (120 runs) at seeded flash operations anywhere in the update (download,
// activation, trial, confirmation, the bookkeeping after it), each tearing a random share of the cut operation's
// bytes. Totals: no brick, no image marked valid without a passing trial, no good release lost: every device ends
// confirmed on v2, and the server knows it.
import test, { type ExecutionContext } from "ava";
import { seeded } from "../node/lib/seeded.js";
import { rmSync } from "node:fs";
import { is, withBoard, world } from "./lib.js";
import type { BoardEvent } from "../../tools/demo/board.js";
import type { World } from "../../tools/demo/world.js";

const SINGLE_RUNS = 200;
const DOUBLE_RUNS = 120;
const CONCURRENT = 4;
const FAST = { timeoutSeconds: 3, requestDeadlineSeconds: 3, reportDeadlineSeconds: 3 };

interface Totals { runs: number; cuts: number; doubles: number; bricks: number; invalidConfirms: number; lost: number; interrupted: number }

/** Marks valid without a passing trial in the same boot. */
function invalidConfirms(events: BoardEvent[]): number {
	return events.filter((event, index) => event.type === "valid" &&
		!events.slice(0, index).some((e) => e.boot === event.boot && e.type === "selftest" && e.result === "pass")).length;
}

async function update(t: ExecutionContext, w: World, v1: Buffer, name: string, cuts: number[], tears: number[], totals: Totals): Promise<void> {
	const where = `${name} (cuts after ${cuts.join(", ")}, tears ${tears.map((x) => x.toFixed(2)).join(", ")})`;
	let events: BoardEvent[] = [];
	const flash = w.device(name, v1, FAST);
	try {
		await withBoard(w, flash, async (board) => {
			events = board.events;
			await board.waitFor(is("valid", { version: "2.0.0" }), 60000, `${where}: v2 confirmed`);
			await board.waitFor((e) => e.type === "report" && e.state === "valid" && e.ok, 20000, `${where}: v2's report`);
		}, { args: ["--power-cut-after", cuts.join(","), "--max-boots", "24"], env: { XSFOTA_POWER_CUT_TEAR: tears.join(",") } });
	} catch (error) {
		if (/bricked/.test(String(error)))
			totals.bricks++;
		else
			totals.lost++;
		t.fail(`${where}: ${String(error).slice(0, 2000)}`);
		return;
	}
	rmSync(flash, { force: true }); // 4 MB each; a failed run keeps its flash file for a look
	const fired = events.filter(is("power-cut")).length;
	totals.runs++;
	totals.cuts += fired;
	if (fired === 2)
		totals.doubles++;
	totals.invalidConfirms += invalidConfirms(events);
	totals.interrupted += events.filter(is("interrupted")).length;
	if (events.some((e) => e.type === "none" && e.why === "previously-failed") || events.some((e) => e.type === "rollback" && e.from === "2.0.0" && !/interrupted|server/.test(String(e.reason))))
		totals.lost++;
	t.true(events.filter(is("boot")).every((e) => ["1.0.0", "2.0.0"].includes(e.version)), `${where}: an unknown image booted`);
}

test.serial(`a seeded campaign: ${SINGLE_RUNS} updates with one power cut and ${DOUBLE_RUNS} with two, random tears`, async (t) => {
	t.timeout(20 * 60 * 1000);
	const w = await world();
	try {
		const v1 = w.firmware({ version: "1.0.0" });
		const v2 = w.firmware({ version: "2.0.0" });
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		// one clean update tells how many flash operations a whole update takes, to its last bookkeeping write
		let total = 0;
		await withBoard(w, w.device("campaign-measure", v1, FAST), async (board) => {
			await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed");
			const report = await board.waitFor((e) => e.type === "report" && e.state === "valid" && e.ok, 20000, "v2's report");
			total = report.ops;
		});
		t.true(total > 40, `only ${total} flash operations in an update`);
		const random = seeded(20261204);
		const plans: { cuts: number[]; tears: number[] }[] = [];
		for (let run = 0; run < SINGLE_RUNS + DOUBLE_RUNS; run++) {
			const first = Math.floor(random() * total);
			const cuts = run < SINGLE_RUNS ? [first] : [first, first + 1 + Math.floor(random() * Math.max(1, (total - first) * 0.8))];
			plans.push({ cuts, tears: cuts.map(() => Math.round(random() * 100) / 100) });
		}
		const totals: Totals = { runs: 0, cuts: 0, doubles: 0, bricks: 0, invalidConfirms: 0, lost: 0, interrupted: 0 };
		let next = 0;
		const worker = async () => {
			while (next < plans.length) {
				const run = next++;
				await update(t, w, v1, `campaign-${run}`, plans[run]!.cuts, plans[run]!.tears, totals);
			}
		};
		await Promise.all(Array.from({ length: CONCURRENT }, worker));
		t.log(`${total} flash operations an update; ${JSON.stringify(totals)}`);
		t.is(totals.runs, SINGLE_RUNS + DOUBLE_RUNS);
		t.true(totals.cuts >= 300, `only ${totals.cuts} cuts happened`);
		t.true(totals.doubles >= 100, `only ${totals.doubles} runs had two cuts`);
		t.is(totals.bricks, 0);
		t.is(totals.invalidConfirms, 0);
		t.is(totals.lost, 0);
	} finally {
		await w.stop();
	}
});
