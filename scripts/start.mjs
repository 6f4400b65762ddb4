// npm start: sets up what is missing, then runs the example firmware (src/main.ts) in the sim host.
import { spawnSync } from "node:child_process";
import { prepare, HOST, MODULE_MAP } from "./lib/prepare.mjs";

try {
	prepare();
} catch (error) {
	console.error(`xs-fota: set-up failed: ${error.message}`);
	process.exit(1);
}
const run = spawnSync(HOST, ["--modules", MODULE_MAP, "main"], { stdio: "inherit" });
process.exit(run.status ?? 1);
