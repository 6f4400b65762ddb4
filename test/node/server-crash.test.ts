// A crash loses nothing (issue 10): `xs-fota serve` on SQLite is killed with SIGKILL while 100 devices report over
// mutual TLS, then started again on the same data. Every report that got a 2xx answer is in the database.
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, startServe } from "./lib/serve-cli.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";
import { openStore } from "../../tools/server/store/store.js";

const DEVICES = 100;

test("SIGKILL in the middle of 100 devices reporting: after a restart, every report that was answered 2xx is stored", async (t) => {
	t.timeout(5 * 60 * 1000);
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-crash-"));
	t.is(spawnSync(process.execPath, [CLI, "init", "--out", join(dir, "certs")]).status, 0);
	const ca = readFileSync(join(dir, "certs/ca.pem"));
	const identities = Array.from({ length: DEVICES }, (_, i) => makeDeviceCertificate({ caCert: join(dir, "certs/device-ca.pem"), caKey: join(dir, "certs/device-ca.key"), deviceId: `crash-${i}` }));
	const data = join(dir, "fleet");
	const server = await startServe(["--certs", join(dir, "certs"), "--data", data, "--history", "100000"]);
	const answered = new Set<string>();
	let killed = false, sent = 0;
	const report = (i: number, n: number, url: string, agent: Agent) => new Promise<void>((resolve) => {
		const body = JSON.stringify({ product: "demo", version: `1.0.${n}`, state: "valid" });
		const outgoing = request(`${url}/v1/devices/crash-${i}/report`, {
			method: "POST", ca, agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
		}, (response) => {
			response.resume();
			response.on("end", () => {
				if (response.statusCode! >= 200 && response.statusCode! < 300)
					answered.add(`crash-${i} 1.0.${n}`);
				resolve();
			});
			response.on("error", () => resolve());
		});
		outgoing.on("error", () => resolve());
		outgoing.end(body);
	});
	// every device reports in a loop, over a keep-alive connection of its own, until the server dies
	const loops = identities.map(async (identity, i) => {
		const agent = new Agent({ keepAlive: true, key: identity.key, cert: identity.cert });
		for (let n = 0; !killed; n++) {
			sent++;
			await report(i, n, server.url, agent);
		}
		agent.destroy();
	});
	while (answered.size < 300)
		await new Promise((resolve) => setTimeout(resolve, 5));
	server.child.kill("SIGKILL");
	killed = true;
	await new Promise((resolve) => server.child.on("exit", resolve));
	await Promise.all(loops);
	t.log(`${sent} reports sent, ${answered.size} answered 2xx before the SIGKILL`);
	// a restart on the same data: the server opens the store, which must hold every answered report
	const again = await startServe(["--certs", join(dir, "certs"), "--data", data]);
	again.child.kill("SIGTERM");
	await new Promise((resolve) => again.child.on("exit", resolve));
	const store = await openStore({ file: join(data, "fleet.db") });
	try {
		const stored = new Set<string>();
		for (const device of await store.devices())
			for (const row of await store.history(device.deviceId, 1000))
				stored.add(`${device.deviceId} ${row.version}`);
		const lost = [...answered].filter((key) => !stored.has(key));
		t.deepEqual(lost, [], `${lost.length} of ${answered.size} answered reports are not in the database`);
		t.true(answered.size >= 300);
	} finally {
		await store.close();
	}
});
