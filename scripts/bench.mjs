// npm run bench [-- --json]: runs every bench/*.bench.ts (compiled to build/js/bench) in one process.
// Each exports run(), which returns named figures measured side by side in that run.
import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { prepare, ROOT } from "./lib/prepare.mjs";

const json = process.argv.includes("--json");
const only = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
try {
	prepare({ log: (line) => console.error(`[prepare] ${line}`) });
} catch (error) {
	console.error(`xs-fota: set-up failed: ${error.message}`);
	process.exit(1);
}
const dir = join(ROOT, "build/js/bench");
const files = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(".bench.js")).sort() : [];
const figures = {};
for (const name of files) {
	if (only.length && !only.some((word) => name.includes(word)))
		continue;
	const bench = await import(pathToFileURL(join(dir, name)).href);
	const result = await bench.run({ log: (line) => { if (!json) console.log(`  ${line}`); } });
	if (!json)
		console.log(`${name.replace(/\.bench\.js$/, "")}:`);
	for (const [key, value] of Object.entries(result)) {
		if (key in figures)
			throw new Error(`bench ${name}: figure ${key} is already reported by another bench`);
		figures[key] = value;
		if (!json)
			console.log(`  ${key.padEnd(36)} ${value}`);
	}
}
if (json)
	console.log(JSON.stringify(figures));
