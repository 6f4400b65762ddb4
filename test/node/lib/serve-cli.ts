// `xs-fota serve` as a child process for the tests: started on a free port, resolved once it says where it listens.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./paths.js";

export const CLI = join(ROOT, "bin/xs-fota.js");

export function startServe(args: string[]): Promise<{ child: ChildProcess; url: string }> {
	const child = spawn(process.execPath, [CLI, "serve", ...args, "--port", "0", "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
	return new Promise((resolve, reject) => {
		child.stdout!.on("data", (chunk) => {
			const match = /at (https:\/\/\S+)/.exec(String(chunk));
			if (match)
				resolve({ child, url: match[1]! });
		});
		child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
	});
}

/** `xs-fota serve` over DIR/certs (xs-fota init) and DIR/fleet, with an admin token made for `name`, product "demo"
 * added and DIR/keys/release.pub trusted for it; run(...) runs the CLI against it (XSFOTA_SERVER, _CA, _TOKEN). */
export async function startFleet(dir: string, name = "erin"): Promise<{ child: ChildProcess; url: string; run: (...args: string[]) => SpawnSyncReturns<string> }> {
	const token = spawnSync(process.execPath, [CLI, "admin", "token", "create", "--data", join(dir, "fleet"), "--name", name], { encoding: "utf8" }).stdout.trim();
	const served = await startServe(["--certs", join(dir, "certs"), "--data", join(dir, "fleet")]);
	const env = { ...process.env, XSFOTA_SERVER: served.url, XSFOTA_CA: join(dir, "certs/ca.pem"), XSFOTA_TOKEN: token };
	const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env });
	for (const args of [["products", "add", "demo"], ["keys", "add", "--product", "demo", "--pub", join(dir, "keys/release.pub")]]) {
		const done = run(...args);
		if (done.status !== 0) {
			served.child.kill("SIGTERM");
			throw new Error(`starting the fleet: xs-fota ${args.join(" ")} failed: ${done.stderr}`);
		}
	}
	return { ...served, run };
}
