#!/usr/bin/env node
// Launches the compiled CLI (build/js/tools/cli/main.js); `npm run build` compiles it.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const main = fileURLToPath(new URL("../build/js/tools/cli/main.js", import.meta.url));
if (!existsSync(main)) {
	console.error("xs-fota: the CLI is not built yet; run `npm run build` first");
	process.exit(1);
}
const { main: run } = await import(pathToFileURL(main).href);
process.exitCode = await run(process.argv.slice(2));
