// The management server on SQLite, measured in one run:
//   server_reports_per_s        device check-ins per second: 1,000 devices reporting at once over mutual TLS, each
//                               on a keep-alive connection of its own, 5 reports each after its handshake
//   server_report_p99_ms        the 99th percentile of those reports' latency (request sent to answer read)
//   server_db_bytes_per_device  the SQLite file's bytes per device after 10,000 devices with 10 reports each
//                               (written through the store, as the server writes them; history kept to 100)
// The 1,000 device certificates share one RSA key (each has its own CN), so that making them takes seconds.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDevCertificates, makeDeviceCa } from "../tools/server/certificates.js";
import { UpdateServer } from "../tools/server/server.js";
import { openStore } from "../tools/server/store/store.js";
import { round } from "./lib/stats.js";

const DEVICES = 1000;
const REPORTS_EACH = 5;

/** Certificates for n devices (CN bench-i) signed by the device CA, all for one RSA key. */
function certificates(dir: string, ca: { cert: string; key: string }, n: number): { key: string; certs: string[] } {
	execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", join(dir, "device.key")], { stdio: "ignore" });
	const certs: string[] = [];
	for (let i = 0; i < n; i++) {
		const csr = join(dir, `bench-${i}.csr`), pem = join(dir, `bench-${i}.pem`);
		execFileSync("openssl", ["req", "-new", "-key", join(dir, "device.key"), "-subj", `/CN=bench-${i}`, "-out", csr], { stdio: "ignore" });
		writeFileSync(join(dir, "ext.cnf"), "extendedKeyUsage=clientAuth\n");
		execFileSync("openssl", ["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "2", "-extfile", join(dir, "ext.cnf"), "-out", pem], { stdio: "ignore" });
		certs.push(readFileSync(pem, "utf8"));
	}
	return { key: readFileSync(join(dir, "device.key"), "utf8"), certs };
}

async function throughput(log: (line: string) => void) {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-bench-server-"));
	const server = makeDevCertificates(join(dir, "certs"));
	const deviceCa = makeDeviceCa(join(dir, "certs"));
	const made = certificates(dir, deviceCa, DEVICES);
	log(`${DEVICES} device certificates made`);
	const store = await openStore({ file: join(dir, "fleet.db") });
	const updates = new UpdateServer({ store, images: join(dir, "images"), cert: readFileSync(server.cert), key: readFileSync(server.key), deviceCa: readFileSync(deviceCa.cert) });
	const { url } = await updates.listen();
	const ca = readFileSync(server.ca);
	const latencies: number[] = [];
	const agents = made.certs.map((cert) => new Agent({ keepAlive: true, maxSockets: 1, key: made.key, cert }));
	const report = (i: number, n: number, timed: boolean) => new Promise<void>((resolve, reject) => {
		const body = JSON.stringify({ product: "demo", version: `1.0.${n}`, state: "valid", sequence: n, securityVersion: 1, slot: 0 });
		const started = performance.now();
		const outgoing = request(`${url}/v1/devices/bench-${i}/report`, { method: "POST", ca, agent: agents[i], headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (response) => {
			response.resume();
			response.on("end", () => {
				if (response.statusCode !== 204)
					return reject(new Error(`report answered ${response.statusCode}`));
				if (timed)
					latencies.push(performance.now() - started);
				resolve();
			});
		});
		outgoing.on("error", reject);
		outgoing.end(body);
	});
	try {
		// Every device at once: its handshake with its first report (at most 200 handshakes in flight, as devices
		// coming back after an outage would be spread by their jitter), then REPORTS_EACH timed reports over the
		// connection it keeps. The rate counts the timed reports over the time from the first to the last.
		let handshaking = 0;
		const waiters: (() => void)[] = [];
		let first = Infinity, last = 0;
		await Promise.all(agents.map(async (_, i) => {
			while (handshaking >= 200)
				await new Promise<void>((resolve) => waiters.push(resolve));
			handshaking++;
			try {
				await report(i, 0, false);
			} finally {
				handshaking--;
				waiters.shift()?.();
			}
			for (let n = 1; n <= REPORTS_EACH; n++) {
				first = Math.min(first, performance.now());
				await report(i, n, true);
				last = performance.now();
			}
		}));
		const seconds = (last - first) / 1000;
		latencies.sort((a, b) => a - b);
		const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1]!;
		log(`${latencies.length} reports in ${round(seconds, 2)} s; p99 ${round(p99, 1)} ms`);
		return { perSecond: latencies.length / seconds, p99 };
	} finally {
		for (const agent of agents)
			agent.destroy();
		await updates.close();
		await store.close();
	}
}

async function databaseSize(log: (line: string) => void): Promise<number> {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-bench-db-"));
	const file = join(dir, "fleet.db");
	const store = await openStore({ file });
	const devices = 10_000;
	const at = Date.UTC(2026, 11, 1);
	for (let round = 0; round < 10; round++) {
		const batch: Promise<unknown>[] = [];
		for (let i = 0; i < devices; i++) {
			batch.push(store.recordReport({ deviceId: `device-${String(i).padStart(5, "0")}`, product: "demo-board", version: `1.${round}.0`, state: round % 3 ? "valid" : "activating",
				securityVersion: round, sequence: round + 1, slot: round % 2, ...(round === 3 ? { error: "selftest-failed: sensor: out of range", target: "1.3.0" } : {}) }, new Date(at + round * 3600_000 + i), 100));
			if (batch.length >= 500)
				await Promise.all(batch.splice(0));
		}
		await Promise.all(batch);
	}
	await store.close();
	let bytes = 0;
	for (const name of ["fleet.db", "fleet.db-wal"]) {
		try {
			bytes += statSync(join(dir, name)).size;
		} catch {
			// no write-ahead log left after the close
		}
	}
	log(`${devices} devices x 10 reports: ${bytes} bytes`);
	return bytes / devices;
}

export async function run({ log }: { log: (line: string) => void }): Promise<Record<string, number>> {
	const { perSecond, p99 } = await throughput(log);
	const perDevice = await databaseSize(log);
	return {
		server_reports_per_s: round(perSecond, 0),
		server_report_p99_ms: round(p99, 1),
		server_db_bytes_per_device: round(perDevice, 0),
	};
}
