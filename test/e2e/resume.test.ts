// Downloads that survive lost links, power cuts, servers that ignore Range and images that change.
import test from "ava";
import { seeded } from "../node/lib/seeded.js";
import { builds, hostileFor, is, types, V2_PATH, withBoard, world } from "./lib.js";
import { cutImageOnce, firstThen, ignoringRange, isImage, only, cutAfter } from "./hostile.js";
import { DEVICE_CHUNK_BYTES } from "../../tools/demo/world.js";


const CHUNK = DEVICE_CHUNK_BYTES;

test.serial("a link cut at 20 seeded offsets: each update completes, re-fetching at most one chunk", async (t) => {
	const w = await world();
	const hostile = await hostileFor(w);
	const { v1, v2 } = builds(w);
	const random = seeded(20261124);
	try {
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		for (let run = 0; run < 20; run++) {
			const cut = 1 + Math.floor(random() * (v2.length - 2));
			hostile.sent.clear();
			hostile.behaviour = cutImageOnce(cut);
			await withBoard(w, w.device(`cut-${run}`, v1, { server: hostile.url }), async (board) => {
				await board.waitFor(is("valid", { version: "2.0.0" }), 30000, `run ${run}: v2 confirmed`);
				t.true(types(board).includes("retry") || types(board).includes("error"), `run ${run}: the cut at ${cut} went unnoticed`);
			});
			const twice = (hostile.sent.get(V2_PATH) ?? 0) - v2.length;
			t.true(twice >= 0 && twice <= CHUNK, `run ${run}: cut at ${cut}, ${twice} bytes fetched twice`);
		}
	} finally {
		await hostile.close();
		await w.stop();
	}
});

test.serial("power cut at 20 seeded flash operations during the download: each resumes after the reboot and completes", async (t) => {
	const w = await world();
	const { v1, v2 } = builds(w);
	const random = seeded(7);
	try {
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		// one clean run tells which flash operations belong to the download
		let first = 0, last = 0;
		await withBoard(w, w.device("measure", v1), async (board) => {
			first = (await board.waitFor(is("manifest"), 20000, "the manifest")).ops;
			last = (await board.waitFor(is("verified"), 20000, "the verified image")).ops;
		});
		t.true(last - first > 50, `only ${last - first} flash operations in the download`);
		for (let run = 0; run < 20; run++) {
			const cutAfter = first + 1 + Math.floor(random() * (last - first - 1));
			await withBoard(w, w.device(`power-${run}`, v1), async (board) => {
				const cut = await board.waitFor(is("power-cut"), 20000, `run ${run}: the power cut`);
				await board.waitFor(is("valid", { version: "2.0.0" }), 30000, `run ${run}: v2 confirmed after the cut`);
				const boots = board.events.filter(is("boot"));
				t.like(boots[1], { slot: 0, version: "1.0.0" }, `run ${run}: the cut did not come back to v1`);
				// The device resumes from its last checkpoint; a cut during that checkpoint's own write leaves the one before.
				const before = board.events.filter((e) => e.type === "progress" && e.boot === cut.boot).at(-1)?.offset ?? 0;
				const resumed = board.events.find((e) => e.type === "resume" && e.boot > cut.boot)?.offset ?? 0;
				t.true(resumed >= before - CHUNK, `run ${run}: cut after ${cutAfter} ops at ${before} bytes, resumed at ${resumed}`);
				if (before >= 2 * CHUNK)
					t.true(resumed > 0, `run ${run}: started over from zero after ${before} bytes`);
			}, { args: ["--power-cut-after", String(cutAfter)] });
		}
	} finally {
		await w.stop();
	}
});

test.serial("a server that ignores Range (200 to a range request): nothing corrupt is written, the update completes", async (t) => {
	const w = await world();
	const hostile = await hostileFor(w);
	const { v1, v2 } = builds(w);
	try {
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		hostile.behaviour = only(isImage, firstThen(cutAfter(100_000), ignoringRange));
		await withBoard(w, w.device("norange", v1, { server: hostile.url }), async (board) => {
			await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed");
			t.truthy(board.events.find(is("restart", { reason: "range-ignored" })));
			t.false(types(board).includes("reject"));
		});
	} finally {
		await hostile.close();
		await w.stop();
	}
});

test.serial("the image changes mid-download (new ETag): the download restarts cleanly from zero", async (t) => {
	const w = await world();
	const hostile = await hostileFor(w);
	const { v1, v2 } = builds(w);
	try {
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		hostile.behaviour = cutImageOnce(100_000);
		await withBoard(w, w.device("etag", v1, { server: hostile.url }), async (board) => {
			await board.waitFor(is("retry"), 20000, "the cut");
			// the server now names the image by another ETag, as one that copied its files again would
			hostile.behaviour = only(isImage, async (exchange, server) => {
				const answer = await server.upstream(exchange);
				await server.answer(exchange, { ...answer, headers: { ...answer.headers, etag: `"copied-again-${answer.headers.etag?.slice(1)}` } });
			});
			hostile.sent.clear();
			await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed");
			const restart = board.events.findIndex(is("restart", { reason: "image-changed" }));
			t.true(restart >= 0, "no restart for the new ETag");
			t.false(board.events.slice(restart).some(is("resume")), "resumed under a new ETag instead of starting over");
			t.true((hostile.sent.get(V2_PATH) ?? 0) >= v2.length, "did not download the whole image again");
		});
	} finally {
		await hostile.close();
		await w.stop();
	}
});
