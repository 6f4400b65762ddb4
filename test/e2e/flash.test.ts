// End to end on the simulated board, counted by the board itself (flash-stats): an uncut update reads the target
// slot once (the verification's pass; the activation reads nothing again) and erases each sector of the image once.
// A power cut mid-download costs re-erases only from the last checkpoint (one chunk), each such sector twice at most.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World } from "../../tools/demo/world.js";

test("an uncut update reads the image's bytes once and erases each of its sectors once", async (t) => {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-e2e-flash-")));
	await world.start();
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0", padTo: 300_001 }); // not a whole number of sectors
		await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const board = world.boot(world.device("dev-flash", v1));
		try {
			const activate = await board.waitFor((e) => e.type === "activate" && e.boot === 1, 30000, "the activation");
			const stats = await board.waitFor((e) => e.type === "flash-stats" && e.boot === 1, 10000, "the update boot's flash-stats");
			t.is(activate.slot, "ota_1");
			t.is(stats.reads[1], v2.length, "bytes read from the target slot during the update");
			t.is(stats.erases[1], Math.ceil(v2.length / stats.sector), "sector erases in the target slot");
			t.is(stats.maxSectorErases[1], 1, "a sector erased twice");
			t.is(stats.reads[0], 0, "the running slot was read");
			t.false(board.events.some((e) => e.type === "activate-check" && e.boot === 1), "the activation read the image again");
			await board.waitFor((e) => e.type === "valid" && e.version === "2.0.0", 30000, "v2 confirmed");
		} finally {
			await board.stop();
		}
	} finally {
		await world.stop();
	}
});

test("a power cut mid-download re-erases only the sectors after the checkpoint, at most twice each, and the update completes", async (t) => {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-e2e-flash-cut-")));
	await world.start();
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0", padTo: 300_001 });
		await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		// a dry run finds the flash operation of the checkpoint half-way, then a cut lands 6 operations after it
		const dry = world.boot(world.device("dev-dry", v1));
		let cutAfter: number;
		try {
			const half = await dry.waitFor((e) => e.type === "progress" && e.offset >= v2.length / 2, 30000, "half the download");
			cutAfter = half.ops + 6;
		} finally {
			await dry.stop();
		}
		const board = world.boot(world.device("dev-cut", v1), { args: ["--power-cut-after", String(cutAfter)] });
		try {
			await board.waitFor((e) => e.type === "activate" && e.boot === 2, 30000, "the activation after the cut");
			const stats = await board.waitFor((e) => e.type === "flash-stats" && e.boot === 2, 10000, "the resumed boot's flash-stats");
			const cut = board.events.find((e) => e.type === "power-cut")!;
			t.truthy(cut);
			const first = board.events.find((e) => e.type === "flash-stats" && e.boot === 1)!;
			const sectors = Math.ceil(v2.length / stats.sector);
			const extra = first.erases[1] + stats.erases[1] - sectors;
			t.true(extra >= 0 && extra <= 16384 / stats.sector, `${extra} sectors erased again`);
			t.true(stats.maxSectorErases[1] <= 2, `a sector erased ${stats.maxSectorErases[1]} times`);
			t.is(stats.reads[1], v2.length, "the resumed boot read the image once");
			await board.waitFor((e) => e.type === "valid" && e.version === "2.0.0", 30000, "v2 confirmed");
		} finally {
			await board.stop();
		}
	} finally {
		await world.stop();
	}
});
