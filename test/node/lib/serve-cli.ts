// `xs-fota serve` as a child process for the tests: started on a free port, resolved once it says where it listens.
import { spawn, type ChildProcess } from "node:child_process";
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
