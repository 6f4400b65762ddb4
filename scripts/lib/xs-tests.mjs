// Runs XS test files in the sim host, one process each, and counts their results from the
// "N passed, N failed" line the harness prints last. A file that crashes counts as one failure.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const SUMMARY = /^(\d+) passed, (\d+) failed$/;

export function findXsTests(dir) {
	const found = [];
	for (const name of readdirSync(dir).sort()) {
		const path = join(dir, name);
		if (statSync(path).isDirectory())
			found.push(...findXsTests(path));
		else if (name.endsWith(".test.js"))
			found.push(path);
	}
	return found;
}

function runOne(host, map, file, timeoutMs) {
	return new Promise((resolve) => {
		const child = spawn(host, ["--modules", map, file], { stdio: ["ignore", "pipe", "pipe"] });
		let stdout = "", stderr = "", timedOut = false;
		child.stdout.on("data", (chunk) => { stdout += chunk; });
		child.stderr.on("data", (chunk) => { stderr += chunk; });
		const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, timeoutMs);
		child.on("close", (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout, stderr, timedOut });
		});
	});
}

/** Returns { passed, failed, files: [{ file, passed, failed, code, stdout, stderr }] }. */
export async function runXsTests(files, { host, map, root = process.cwd(), timeoutMs = 120000, print = (text) => process.stdout.write(text) }) {
	let passed = 0, failed = 0;
	const results = [];
	for (const file of files) {
		const name = relative(root, file);
		print(`# xs: ${name}\n`);
		const run = await runOne(host, map, file, timeoutMs);
		const lines = run.stdout.trimEnd().split("\n");
		const summary = SUMMARY.exec(lines.at(-1) ?? "");
		let filePassed = summary ? Number(summary[1]) : 0;
		let fileFailed = summary ? Number(summary[2]) : 0;
		print(summary ? lines.slice(0, -1).map((line) => line + "\n").join("") : run.stdout);
		if (run.stderr)
			print(run.stderr.split("\n").map((line) => line && `  ${line}`).join("\n"));
		if (run.timedOut)
			print(`not ok - ${name}: timed out after ${timeoutMs} ms\n`);
		if (run.code !== 0 && fileFailed === 0) {
			fileFailed = 1; // crashed, hung or exited non-zero without a failing test to show for it
			print(`not ok - ${name}: the sim host exited with ${run.signal ?? run.code}\n`);
		}
		passed += filePassed;
		failed += fileFailed;
		results.push({ file, passed: filePassed, failed: fileFailed, code: run.code, stdout: run.stdout, stderr: run.stderr });
	}
	return { passed, failed, files: results };
}
