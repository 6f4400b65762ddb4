// Runs the sim host on a module and collects what it printed, and the CPU time it used.
import { spawnSync } from "node:child_process";
import { HOST, MODULE_MAP } from "./paths.js";

export interface HostRun {
	status: number | null;
	stdout: string;
	stderr: string;
	wallMs: number;
	cpuMs: number;
}

const CPU_LINE = /^xs-fota-cpu ([\d.]+) ([\d.]+)$/m;

export function runHost(entry: string, extra: string[] = []): HostRun {
	const start = performance.now();
	// bash's `time` reports the child's user and system CPU seconds on stderr, after the host's own output.
	const result = spawnSync("bash", ["-c", 'TIMEFORMAT="xs-fota-cpu %U %S"; time "$@"', "run", HOST, "--modules", MODULE_MAP, ...extra, entry],
		{ encoding: "utf8", timeout: 30000 });
	const wallMs = performance.now() - start;
	const cpu = CPU_LINE.exec(result.stderr);
	return {
		status: result.status,
		stdout: result.stdout,
		stderr: result.stderr.replace(CPU_LINE, "").trimEnd(),
		wallMs,
		cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : NaN,
	};
}
