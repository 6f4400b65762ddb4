// The gateway's launcher (`xs-fota gateway-launch`), the process the host's supervisor keeps running (systemd with
// Restart=always, runit, s6, a container's restart policy). It runs the gateway as a child, from the version the
// self-update state names (./self-update.ts): the pending version when there is one, else the current one. A child that
// exits with RESTART_EXIT has made a new version pending: the launcher starts it. A pending version that exits before
// it has promoted itself, or has not come up within the trial (config self.trialSeconds), is killed and rolled back: it
// is marked failed (never tried again), and the current version runs again and reports the rollback. Any other exit of
// the current version ends the launcher with that code, for the supervisor to restart. SIGTERM and SIGINT are passed on.
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { GatewayConfig } from "./config.js";
import { readSelfState, RESTART_EXIT, writeSelfState } from "./self-update.js";

export interface LaunchOptions {
	config: GatewayConfig;
	configFile: string;
	/** bin/xs-fota.js of the program installed by hand */
	installed: string;
	log: (line: string) => void;
}

export async function launch(options: LaunchOptions): Promise<number> {
	const { config } = options;
	let stopping = false;
	let child: ReturnType<typeof spawn> | undefined;
	const stop = () => {
		stopping = true;
		child?.kill("SIGTERM");
	};
	process.on("SIGTERM", stop);
	process.on("SIGINT", stop);
	try {
		for (;;) {
			const state = readSelfState(config);
			const run = state.pending ?? state.current;
			const bin = run.dir ? join(run.dir, "bin/xs-fota.js") : options.installed;
			options.log(`launcher: starting gateway ${run.version}${state.pending ? " (pending: on trial)" : ""}`);
			const started = spawn(process.execPath, [bin, "gateway", "--config", options.configFile, "--self-version", run.version], { stdio: "inherit" });
			child = started;
			let why: string | undefined;
			const trial = state.pending ? setTimeout(() => {
				if (readSelfState(config).pending?.version === run.version) {
					why = `new-version-did-not-start: not up within ${config.self!.trialSeconds} s`;
					started.kill("SIGKILL");
				}
			}, config.self!.trialSeconds * 1000) : undefined;
			const code = await new Promise<number | null>((resolve) => {
				started.once("error", (error) => {
					why ??= `new-version-did-not-start: ${error.message}`;
					resolve(null);
				});
				started.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : null)));
			});
			clearTimeout(trial);
			child = undefined;
			if (stopping)
				return 0;
			const after = readSelfState(config);
			if (after.pending?.version === run.version) { // it never promoted itself: roll back
				why ??= `new-version-did-not-start: exited with ${code}`;
				options.log(`launcher: ${run.version} rolled back to ${after.current.version}: ${why}`);
				writeSelfState(config, { current: after.current, failed: [...after.failed, run.version], rolledBack: { version: run.version, why } });
				continue;
			}
			if (code === RESTART_EXIT)
				continue;
			options.log(`launcher: gateway ${run.version} exited with ${code}`);
			return code ?? 1;
		}
	} finally {
		process.off("SIGTERM", stop);
		process.off("SIGINT", stop);
	}
}
