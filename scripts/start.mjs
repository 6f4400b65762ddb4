// npm start: sets up what is missing, then runs the update demo (tools/demo/main.ts).
// npm run demo:mcsim (`node scripts/start.mjs mcsim`): the same in Moddable's desktop simulator (tools/demo/mcsim.ts).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { prepare, ROOT } from "./lib/prepare.mjs";

try {
	prepare();
} catch (error) {
	console.error(`xs-fota: set-up failed: ${error.message}`);
	process.exit(1);
}
// The demo: build v1, v2 and a bad v3, sign, serve, provision a sim device and watch it update and roll back.
// `node scripts/start.mjs gateway` (npm run demo:gateway): a cloud, a gateway and devices behind it (tools/demo/gateway.ts).
// `node scripts/start.mjs mcsim-heap` (npm run bench:mcsim): a 1 MiB update's heap in mcsim (tools/demo/mcsim-heap.ts).
const demos = { mcsim: "mcsim.js", gateway: "gateway.js", "mcsim-heap": "mcsim-heap.js" };
const demo = demos[process.argv[2]] ?? "main.js";
const run = spawnSync(process.execPath, [join(ROOT, "build/js/tools/demo", demo)], { stdio: "inherit" });
process.exit(run.status ?? 1);
