// The XS test runner: a failing XS test fails the whole command, and its counts add up.
import test from "ava";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, fixture } from "./lib/paths.js";

function runXs(...files: string[]) {
	const result = spawnSync(process.execPath, [join(ROOT, "scripts/test.mjs"), "--xs", ...files.map((file) => fixture(file))],
		{ encoding: "utf8", timeout: 60000 });
	return { status: result.status, lines: result.stdout.trimEnd().split("\n"), stdout: result.stdout };
}

test("a failing XS test makes the command fail, and the last line counts it", (t) => {
	const run = runXs("xs/one-fails.test.js");
	t.is(run.status, 1);
	t.is(run.lines.at(-1), "1 passed, 1 failed");
	t.true(run.lines.includes("not ok - fails"));
});

test("passing XS tests make the command pass", (t) => {
	const run = runXs("xs/all-pass.test.js");
	t.is(run.status, 0, run.stdout);
	t.is(run.lines.at(-1), "1 passed, 0 failed");
});

test("an XS test file that crashes while loading counts as a failure", (t) => {
	const run = runXs("xs/all-pass.test.js", "xs/crashes.test.js");
	t.is(run.status, 1);
	t.is(run.lines.at(-1), "1 passed, 1 failed");
	t.regex(run.stdout, /crash while loading/);
});

test("an XS test that asserts nothing fails, as in ava", (t) => {
	const run = runXs("xs/no-assertions.test.js");
	t.is(run.status, 1);
	t.is(run.lines.at(-1), "0 passed, 1 failed");
});
