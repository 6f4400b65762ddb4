// npm run bench [-- --json] [-- WORD...]: runs every bench/*.bench.ts (compiled to build/js/bench), or those whose
// name holds one of the WORDs. Each exports run(), which returns named figures measured side by side in that run.
// Each bench file runs in a Node process of its own (`--one FILE`, which prints its figures as one JSON line): a
// bench's timings must not carry another's heap and leftovers (the fleet bench leaves a large heap whose collections
// then land in the next bench's requests, and its server's timers), so each is measured as it would run alone.
import { spawn } from "node:child_process";
import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { prepare, ROOT } from "./lib/prepare.mjs";

let parsed;
try {
	parsed = parseArgs({ options: { json: { type: "boolean", default: false }, one: { type: "string" } }, allowPositionals: true });
} catch (error) {
	console.error(`xs-fota bench: ${error.message}\nusage: npm run bench [-- --json] [-- WORD...]`);
	process.exit(2);
}
const { values: options, positionals: only } = parsed;
const dir = join(ROOT, "build/js/bench");

/** The child: one bench file; its log lines to stderr, its figures as the last line of stdout. It exits once the line
 * is out (a bench that left a handle open must not hold the run), and never goes on to the parent's part below: the
 * write's callback comes later, so the caller waits for the exit. */
async function runChild(name) {
	const bench = await import(pathToFileURL(join(dir, name)).href);
	const result = await bench.run({ log: (line) => { if (!options.json) console.error(`  ${line}`); } });
	await new Promise(() => process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0)));
}

/** Runs one bench file in a process of its own; resolves with its figures. */
function runOne(name) {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [process.argv[1], "--one", name, ...(options.json ? ["--json"] : [])],
			{ stdio: ["ignore", "pipe", "inherit"] });
		let out = "";
		child.stdout.on("data", (chunk) => { out += chunk; });
		child.on("error", reject);
		child.on("close", (code, signal) => {
			const last = out.trim().split("\n").pop() ?? "";
			if (code !== 0)
				return reject(new Error(`bench ${name} failed (${signal ?? `exit ${code}`})`));
			try {
				resolve(JSON.parse(last));
			} catch {
				reject(new Error(`bench ${name} printed no figures: ${last.slice(0, 200)}`));
			}
		});
	});
}

if (options.one !== undefined) {
	if (!/^[\w.-]+\.bench\.js$/.test(options.one) || !existsSync(join(dir, options.one))) {
		console.error(`xs-fota bench: --one ${options.one}: no such bench file in ${dir}`);
		process.exit(2);
	}
	await runChild(options.one); // exits
}

try {
	prepare({ log: (line) => console.error(`[prepare] ${line}`) });
} catch (error) {
	console.error(`xs-fota: set-up failed: ${error.message}`);
	process.exit(1);
}
const files = (existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(".bench.js")).sort() : [])
	.filter((name) => !only.length || only.some((word) => name.includes(word)));
if (!files.length) { // a word that names no bench would print nothing and look like a run
	console.error(`xs-fota bench: no bench file in ${dir} holds ${only.map((word) => `"${word}"`).join(" or ") || "anything"}`);
	process.exit(2);
}
const figures = {};
try {
	for (const name of files) {
		const result = await runOne(name);
		if (!options.json)
			console.log(`${name.replace(/\.bench\.js$/, "")}:`);
		for (const [key, value] of Object.entries(result)) {
			if (key in figures)
				throw new Error(`bench ${name}: figure ${key} is already reported by another bench`);
			figures[key] = value;
			if (!options.json)
				console.log(`  ${key.padEnd(36)} ${value}`);
		}
	}
} catch (error) {
	console.error(`xs-fota: ${error.message}`);
	process.exit(1);
}
if (options.json)
	console.log(JSON.stringify(figures));
