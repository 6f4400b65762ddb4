// npm test: sets up what is missing, runs the ava tests in Node and the XS tests in the sim host,
// and ends with one line "N passed, N failed" that counts both. Temporary files go into one folder (TMPDIR for every
// process of the run), removed at the end.
//   node scripts/test.mjs                 everything
//   node scripts/test.mjs --xs FILE...    only these compiled XS test files (no set-up)
import { spawn } from "node:child_process";
import { join } from "node:path";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { prepare, ROOT, HOST, MODULE_MAP } from "./lib/prepare.mjs";
import { findXsTests, runXsTests } from "./lib/xs-tests.mjs";

function runAva() {
	return new Promise((resolve) => {
		const ava = spawn(process.execPath, [join(ROOT, "node_modules/ava/entrypoints/cli.mjs"), "--tap"],
			{ cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
		let passed = 0, failed = 0, pending = "";
		ava.stdout.on("data", (chunk) => {
			process.stdout.write(chunk);
			pending += chunk;
			const lines = pending.split("\n");
			pending = lines.pop();
			for (const line of lines) {
				if (/^ok \d+ /.test(line) && !/# SKIP/.test(line))
					passed++;
				else if (/^not ok \d+ /.test(line))
					failed++;
			}
		});
		ava.on("close", (code) => resolve({ passed, failed: failed || (code !== 0 ? 1 : 0) }));
	});
}

async function main() {
	const args = process.argv.slice(2);
	if (args[0] === "--xs") {
		const result = await runXsTests(args.slice(1), { host: HOST, map: MODULE_MAP, root: ROOT });
		console.log(`${result.passed} passed, ${result.failed} failed`);
		return result.failed === 0 ? 0 : 1;
	}
	// Every temporary file of the run (flash files, worlds, databases) goes into one folder, removed at the end:
	// the board tests alone write thousands of 4 MB flash files.
	const scratch = mkdtempSync(join(tmpdir(), "xs-fota-test-run-"));
	chmodSync(scratch, 0o755); // the throw-away PostgreSQL cluster runs as the postgres user, inside it
	process.env.TMPDIR = scratch;
	try {
		return await runAll();
	} finally {
		rmSync(scratch, { recursive: true, force: true });
	}
}

async function runAll() {
	try {
		prepare();
	} catch (error) {
		console.error(`xs-fota: set-up failed: ${error.message}`);
		console.log("0 passed, 1 failed");
		return 1;
	}
	const node = await runAva();
	const xs = await runXsTests(findXsTests(join(ROOT, "build/js/test/xs")), { host: HOST, map: MODULE_MAP, root: ROOT });
	const passed = node.passed + xs.passed, failed = node.failed + xs.failed;
	console.log(`# node: ${node.passed} passed, ${node.failed} failed; xs: ${xs.passed} passed, ${xs.failed} failed`);
	console.log(`${passed} passed, ${failed} failed`);
	return failed === 0 && passed > 0 ? 0 : 1;
}

process.exitCode = await main();
