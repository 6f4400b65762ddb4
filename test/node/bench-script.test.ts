// scripts/bench.mjs: each bench file runs in a child of its own (`--one FILE`), which prints its figures as one JSON
// line and exits. Defect found in the fifth pass: the child's exit waited for its write's callback, so the child went
// on into the parent's part (the set-up, then a child for every bench file, and so on): orphan benches kept running
// beside the ones being measured.
import test from "ava";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { ROOT } from "./lib/paths.js";

const BENCH = resolve(ROOT, "scripts/bench.mjs");

test("a bench's child prints its figures as one line and exits, without the parent's set-up or any other bench", (t) => {
	const run = spawnSync(process.execPath, [BENCH, "--one", "host.bench.js", "--json"], { encoding: "utf8", timeout: 120_000 });
	t.is(run.status, 0, run.stderr);
	const lines = run.stdout.trim().split("\n");
	t.is(lines.length, 1, run.stdout);
	t.true(typeof JSON.parse(lines[0]!).sim_host_start_ms === "number");
	t.false(run.stderr.includes("[prepare]"), `the child ran the parent's part:\n${run.stderr}`);
});

test("an unknown option gets the usage line and exit code 2; so do a word that names no bench and an unknown child", (t) => {
	const run = spawnSync(process.execPath, [BENCH, "--jsno"], { encoding: "utf8", timeout: 60_000 });
	t.is(run.status, 2);
	t.regex(run.stderr, /usage: npm run bench/);
	const none = spawnSync(process.execPath, [BENCH, "--json", "nosuchbench"], { encoding: "utf8", timeout: 120_000 });
	t.is(none.status, 2, none.stderr);
	t.regex(none.stderr, /no bench file in .* holds "nosuchbench"/);
	t.is(none.stdout, "", "figures were printed for no bench");
	for (const name of ["nosuch.bench.js", "../../package.json"]) {
		const child = spawnSync(process.execPath, [BENCH, "--one", name], { encoding: "utf8", timeout: 60_000 });
		t.is(child.status, 2, child.stderr);
		t.regex(child.stderr, /no such bench file/);
	}
});
