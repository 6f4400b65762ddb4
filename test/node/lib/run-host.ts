// Runs the sim host on a module and collects what it printed, and the CPU time it used.
import { spawn, spawnSync } from "node:child_process";
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

/** The same, without blocking this process: needed when this process also runs the server. */
export function runHostAsync(args: string[], timeoutMs = 60000): Promise<{ status: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(HOST, args, { stdio: ["ignore", "pipe", "pipe"] });
		let stdout = "", stderr = "";
		child.stdout.on("data", (chunk) => { stdout += chunk; });
		child.stderr.on("data", (chunk) => { stderr += chunk; });
		const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
		child.on("close", (status) => {
			clearTimeout(timer);
			resolve({ status, stdout, stderr });
		});
	});
}

export function runModuleAsync(entry: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
	return runHostAsync(["--modules", MODULE_MAP, entry]);
}
