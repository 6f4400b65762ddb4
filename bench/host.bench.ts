// The sim host itself: start-up time and memory of the hello fixture, against the same work in Node.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { median, round } from "./lib/stats.js";

const ROOT = resolve(fileURLToPath(import.meta.url), "../../../..");
const HOST = join(ROOT, "build/sim/xsfota-sim");
const MAP = join(ROOT, "build/sim/modules.json");

function timeRun(command: string, args: string[]): number {
	const start = performance.now();
	const result = spawnSync(command, args, { stdio: "ignore" });
	if (result.status !== 0)
		throw new Error(`${command} ${args.join(" ")} exited with ${result.status}`);
	return performance.now() - start;
}

export async function run(): Promise<Record<string, number>> {
	const report = join(mkdtempSync(join(tmpdir(), "xs-fota-bench-")), "memory.json");
	const empty = join(ROOT, "build/js/test/fixtures/sim/greeting.js");
	const xs: number[] = [], node: number[] = [];
	for (let i = 0; i < 15; i++) {
		xs.push(timeRun(HOST, ["--modules", MAP, empty]));
		node.push(timeRun(process.execPath, [empty]));
	}
	spawnSync(HOST, ["--modules", MAP, "--memory-report", report, join(ROOT, "build/js/test/fixtures/sim/hello.js")]);
	const memory = JSON.parse(readFileSync(report, "utf8"));
	return {
		sim_host_start_ms: round(median(xs), 2),
		node_start_ms: round(median(node), 2),
		sim_host_start_speedup_vs_node: round(median(node) / median(xs), 1),
		sim_host_hello_peak_bytes: memory.peak,
	};
}
