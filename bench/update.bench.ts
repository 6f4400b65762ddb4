// The whole update on the simulated board against the real server, measured side by side with curl:
//   update_time_vs_curl           the device's check-to-activation time for a 1 MiB image over curl's download
//                                 of it, both from a server paced to 1 MB/s, the link of a good ESP32 on Wi-Fi
//   update_time_vs_curl_loopback  the same with no pacing: the device's fixed costs (a second request for the
//                                 manifest, the read-back SHA-256, the activation's image check) against a bare copy
//   peak_heap_over_idle_bytes     the most live XS memory during that update (after a full collection at every
//                                 checkpoint, the verification and the activation) minus the idle live memory
//   peak_heap_with_garbage_over_idle_bytes  XS's own peak counter instead: live memory plus the garbage that
//                                 piles up until XS needs the room (it collects only when the heap is full)
//   redownload_bytes_after_cut    the most bytes fetched twice after a lost link; chunk_bytes is the checkpoint size
//   tls_handshakes_per_update     full TLS handshakes the server made for one whole update (the check's manifest, the
//                                 image ranges, the reports up to the activation's; the reboot then starts afresh):
//                                 the most over the paced and loopback runs; tls_resumptions_per_update the resumed ones
//   tls_handshakes_per_update_closing_server, tls_resumptions_per_update_closing_server  the same through the tests'
//                                 hostile server, which closes the connection after every response (and cuts the
//                                 image once): the most over the cut runs
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { makeDeviceCertificate } from "../tools/server/certificates.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World, PRODUCT, DEVICE_CHUNK_BYTES } from "../tools/demo/world.js";
import type { BoardEvent } from "../tools/demo/board.js";
import { median, round } from "./lib/stats.js";
import { hostileFor } from "../test/e2e/lib.js";
import { cutImageOnce } from "../test/e2e/hostile.js";
import type { TlsCounts } from "../tools/server/sessions.js";

const MIB = 1024 * 1024;
const CHUNK = DEVICE_CHUNK_BYTES;
const LINK_BYTES_PER_SECOND = 1_000_000;

/** curl's own total time (connection, TLS, transfer), without its process start; async: the server runs here. */
function curlMs(url: string, ca: string, identity: { cert: string; key: string }): Promise<number> {
	return new Promise((resolve, reject) => {
		const child = spawn("curl", ["-sS", "--fail", "--cacert", ca, "--cert", identity.cert, "--key", identity.key, "-o", "/dev/null", "-w", "%{time_total}", url]);
		let out = "", err = "";
		child.stdout.on("data", (chunk) => { out += chunk; });
		child.stderr.on("data", (chunk) => { err += chunk; });
		child.on("close", (code) => code === 0 ? resolve(Number(out) * 1000) : reject(new Error(`curl failed: ${err}`)));
	});
}

/** One update; tls: the handshakes and resumptions `counts` (the server's the device talks to) grew by up to its
 * last request before the reboot, the activating report. */
async function update(world: World, v1: Buffer, name: string, args: string[] = [], config: Record<string, unknown> = {},
	counts: TlsCounts = world.server.tls): Promise<{ ms: number; heap: number; live: number; tls: TlsCounts; events: BoardEvent[] }> {
	const before = { ...counts };
	const board = world.boot(world.device(name, v1, config), { args });
	try {
		const check = await board.waitFor((e) => e.type === "check", 20000, "the check");
		const activate = await board.waitFor((e) => e.type === "activate", 60000, "the activation");
		await board.waitFor((e) => e.type === "report" && e.state === "activating", 20000, "the activating report");
		const tls = { handshakes: counts.handshakes - before.handshakes, resumptions: counts.resumptions - before.resumptions };
		const live = Math.max(...board.events.filter((e) => e.memoryLive !== undefined && e.t >= check.t).map((e) => e.memoryLive));
		return { ms: activate.t - check.t, heap: activate.memoryPeak - check.memory, live: live - check.memory, tls, events: board.events };
	} finally {
		await board.stop();
	}
}

async function compare(rate: number | undefined, runs: number, log: (line: string) => void) {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-bench-")));
	await world.start(undefined, rate);
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0", padTo: MIB });
		await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const url = `${world.url}/v1/products/${PRODUCT}/firmware-2.0.0.bin`;
		// curl fetches as a device of the fleet does: over mutual TLS, with a certificate from the device CA
		const made = makeDeviceCertificate({ caCert: world.deviceCa.cert, caKey: world.deviceCa.key, deviceId: "curl" });
		const identity = { cert: join(world.dir, "curl.pem"), key: join(world.dir, "curl.key") };
		writeFileSync(identity.cert, made.cert);
		writeFileSync(identity.key, made.key, { mode: 0o600 });
		const device: number[] = [], curl: number[] = [];
		const tls: TlsCounts = { handshakes: 0, resumptions: 0 };
		for (let i = 0; i < runs; i++) {
			curl.push(await curlMs(url, world.certs.ca, identity));
			const measured = await update(world, v1, `speed-${i}`);
			device.push(measured.ms);
			tls.handshakes = Math.max(tls.handshakes, measured.tls.handshakes);
			tls.resumptions = Math.max(tls.resumptions, measured.tls.resumptions);
			log(`${rate ? `${rate / 1e6} MB/s` : "loopback"} run ${i + 1}: device ${round(device.at(-1)!, 1)} ms, curl ${round(curl.at(-1)!, 1)} ms`);
		}
		return { device: median(device), curl: median(curl), tls, world, v1, v2 };
	} catch (error) {
		await world.stop();
		throw error;
	}
}

export async function run({ log }: { log: (line: string) => void }): Promise<Record<string, number>> {
	const paced = await compare(LINK_BYTES_PER_SECOND, 3, log);
	await paced.world.stop();
	const loopback = await compare(undefined, 5, log);
	const { world, v1, v2 } = loopback;
	try {
		const heap: number[] = [], live: number[] = [];
		for (let i = 0; i < 3; i++) {
			const measured = await update(world, v1, `memory-${i}`, ["--tight-heap"]);
			heap.push(measured.heap);
			live.push(measured.live);
			log(`memory run ${i + 1}: live peak over idle ${live.at(-1)} bytes, with garbage ${heap.at(-1)} bytes`);
		}
		let redownload = 0;
		const closing: TlsCounts = { handshakes: 0, resumptions: 0 };
		const hostile = await hostileFor(world); // the tests' hostile server cuts the link
		try {
			for (const fraction of [0.13, 0.37, 0.61, 0.89]) {
				hostile.sent.clear();
				hostile.behaviour = cutImageOnce(Math.floor(v2.length * fraction));
				const measured = await update(world, v1, `cut-${fraction}`, [], { server: hostile.url }, hostile.tls);
				closing.handshakes = Math.max(closing.handshakes, measured.tls.handshakes);
				closing.resumptions = Math.max(closing.resumptions, measured.tls.resumptions);
				redownload = Math.max(redownload, (hostile.sent.get(`/v1/products/${PRODUCT}/firmware-2.0.0.bin`) ?? 0) - v2.length);
			}
		} finally {
			await hostile.close();
		}
		return {
			update_1mib_device_ms: round(paced.device, 1),
			download_1mib_curl_ms: round(paced.curl, 1),
			update_time_vs_curl: round(paced.device / paced.curl, 3),
			update_1mib_device_loopback_ms: round(loopback.device, 1),
			download_1mib_curl_loopback_ms: round(loopback.curl, 1),
			update_time_vs_curl_loopback: round(loopback.device / loopback.curl, 2),
			peak_heap_over_idle_bytes: Math.max(...live),
			peak_heap_with_garbage_over_idle_bytes: Math.max(...heap),
			redownload_bytes_after_cut: redownload,
			chunk_bytes: CHUNK,
			tls_handshakes_per_update: Math.max(paced.tls.handshakes, loopback.tls.handshakes),
			tls_resumptions_per_update: Math.max(paced.tls.resumptions, loopback.tls.resumptions),
			tls_handshakes_per_update_closing_server: closing.handshakes,
			tls_resumptions_per_update_closing_server: closing.resumptions,
		};
	} finally {
		await world.stop();
	}
}
