// The README's "Your first update by hand", run exactly as written: its shell block, from the repository, with a
// HOME of its own. It ends with the device on v2.0.0, valid, and the server's admin API saying so, with its history.
import test from "ava";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../tools/demo/world.js";

function section(markdown: string, title: string): string {
	const start = markdown.indexOf(`## ${title}\n`);
	if (start < 0)
		throw new Error(`README has no section "${title}"`);
	const end = markdown.indexOf("\n## ", start + 4);
	const body = markdown.slice(start, end < 0 ? undefined : end);
	const block = /```sh\n([\s\S]*?)```/.exec(body);
	if (!block)
		throw new Error(`README's "${title}" has no sh block`);
	return block[1]!;
}

function getJson(url: string, ca: string, token: string): Promise<any> {
	return new Promise((resolve, reject) => {
		request(url, { ca, headers: { authorization: `Bearer ${token}` } }, (response) => {
			let text = "";
			response.on("data", (chunk) => { text += chunk; });
			response.on("end", () => {
				try {
					resolve(JSON.parse(text));
				} catch (error) {
					reject(error);
				}
			});
		}).on("error", reject).end();
	});
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined, output: () => string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = probe();
		if (value !== undefined)
			return value;
		if (Date.now() > deadline)
			throw new Error(`waited ${timeoutMs} ms for ${what} in vain\n${output()}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

test("the README's first update by hand ends with the device on v2.0.0, valid, and the server saying so", async (t) => {
	const script = section(readFileSync(join(ROOT, "README.md"), "utf8"), "Your first update by hand");
	const home = mkdtempSync(join(tmpdir(), "xs-fota-readme-"));
	const shell = spawn("bash", ["-e", "-c", script], { cwd: ROOT, env: { ...process.env, HOME: home }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
	let output = "";
	shell.stdout.on("data", (chunk) => { output += chunk; });
	shell.stderr.on("data", (chunk) => { output += chunk; });
	const work = join(home, "my-first-update");
	const log = join(work, "dev-1.jsonl");
	try {
		const events = () => existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line)) : [];
		const valid = await until("v2.0.0 marked valid", 60000, () => events().find((e) => e.type === "valid" && e.version === "2.0.0"), () => output);
		t.truthy(valid);
		t.truthy(events().find((e) => e.type === "boot" && e.version === "2.0.0" && e.state === "pending-verify"), "v2 booted pending first");
		const ca = readFileSync(join(work, "certs/ca.pem"), "utf8");
		// the admin API, with a token of our own from the same fleet store; without one the server says 401
		const token = spawnSync(process.execPath, [join(ROOT, "bin/xs-fota.js"), "admin", "token", "create", "--data", join(work, "fleet"), "--name", "test"], { encoding: "utf8" }).stdout.trim();
		t.regex(token, /^[A-Za-z0-9_-]{43}$/);
		t.like(await getJson("https://localhost:8443/v1/admin/devices", ca, "not-a-token"), { error: "unauthorized" });
		let seen: any;
		for (let i = 0; i < 50 && seen?.state !== "valid"; i++) {
			const device = await getJson("https://localhost:8443/v1/admin/devices/dev-1", ca, token);
			seen = device?.deviceId === "dev-1" ? device : undefined;
			if (seen?.state !== "valid")
				await new Promise((resolve) => setTimeout(resolve, 200));
		}
		t.like(seen, { version: "2.0.0", state: "valid" }, output);
		// the timeline, newest first, with the checks between reports left out
		const reports = seen.history.map((entry: any) => entry.state).filter((state: string) => state !== "checked");
		t.deepEqual(reports.slice(0, 3), ["valid", "activating", "downloading"], "the history of the update");
	} finally {
		try {
			process.kill(-shell.pid!, "SIGTERM");
		} catch {
			// already gone
		}
	}
});
