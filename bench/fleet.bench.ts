// 10,000 virtual devices (tools/fleet) that all start at once, against the management server in a worker thread
// (./lib/fleet-server.ts), over HTTPS with mutual TLS, each polling with the configured jitter; a release is
// published as they start, and every device downloads it through the server's download gate. Measured in one run:
//   fleet_checkins_per_s        manifest fetches and reports answered a second, from the start to the last download
//   fleet_checkin_p99_ms        the 99th percentile of their latency (request to the response's end)
//   herd_peak_over_mean         polls (manifest requests) begun in the busiest second over the mean second, in the
//                               first poll interval (the seconds over which the jitter spreads the first polls);
//                               target ≤ 1.5. (All requests' figure is logged: a poll's follow-ups, the reports and
//                               the image, follow the server's pace, not the devices' jitter.)
//   max_concurrent_downloads    the most image responses the server streamed at once (its gate's peak); target ≤
//                               the limit
//   rollout_overhead_vs_ideal   the time for every device to download the release (the first image request to the
//                               last verified image) over the ideal, devices × image size ÷ (limit × the paced rate
//                               of one download); target ≤ 1.2
// FLEET_BENCH_DEVICES sets another number of devices (for a quick look).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { startFleet } from "../tools/fleet/fleet.js";
import { fleetImage } from "../tools/fleet/image.js";
import { peakOverMean } from "../tools/fleet/summary.js";
import { round } from "./lib/stats.js";
import type { FleetServerReady } from "./lib/fleet-server.js";

const DEVICES = Number(process.env.FLEET_BENCH_DEVICES ?? 10_000);
const IMAGE_BYTES = 16 * 1024;
/** each download is paced to this, as a device's link would be */
const RATE = 4 * 1024;
const LIMIT = 100;
const POLL_SECONDS = 120;
const JITTER = 0.5;

function message<T>(worker: Worker, type: string): Promise<T> {
	return new Promise((resolve, reject) => {
		const listen = (data: { type: string }) => {
			if (data.type === type) {
				worker.off("message", listen);
				worker.off("error", reject);
				resolve(data as T);
			}
		};
		worker.on("message", listen);
		worker.once("error", reject);
	});
}

export async function run({ log }: { log: (line: string) => void }): Promise<Record<string, number>> {
	const worker = new Worker(new URL("./lib/fleet-server.js", import.meta.url), {
		workerData: { dir: mkdtempSync(join(tmpdir(), "xs-fota-bench-fleet-")), rate: RATE, limit: LIMIT },
	});
	const server = await message<FleetServerReady>(worker, "ready");
	const image = fleetImage("2.0.0", IMAGE_BYTES);
	worker.postMessage({ type: "publish", version: "2.0.0", sequence: 2, image });
	await message(worker, "published");
	const fleet = await startFleet({
		server: server.url, serverCa: server.serverCa, deviceCa: server.deviceCa, product: server.product, keys: server.keys,
		count: DEVICES, version: "1.0.0", pollSeconds: POLL_SECONDS, jitter: JITTER,
		// after a refusal (503), the device is back when the server's Retry-After says, not after a long back-off
		config: { backoffSeconds: 1, maxBackoffSeconds: 30, timeoutSeconds: 30, requestDeadlineSeconds: 60, reportDeadlineSeconds: 60 },
	});
	log(`${DEVICES} devices started; first polls spread over ${POLL_SECONDS * JITTER} s`);
	const ticker = setInterval(() => {
		const stats = fleet.stats();
		log(`${stats.elapsedSeconds.toFixed(0)} s: ${JSON.stringify(stats.byVersion)} ${JSON.stringify(stats.byState)} ${stats.checkins} check-ins, ${fleet.requests.counts.file} image requests, ${stats.requestFailures} failed`);
	}, 10_000);
	try {
		await fleet.waitFor((f) => f.devices.every((device) => device.verifiedAt !== undefined), 15 * 60_000);
	} finally {
		clearInterval(ticker);
	}
	const stats = fleet.stats();
	const lastVerified = Math.max(...fleet.devices.map((device) => device.verifiedAt!));
	const downloadSeconds = (lastVerified - fleet.requests.firstAt.file!) / 1000;
	const ideal = (DEVICES * IMAGE_BYTES) / (LIMIT * RATE);
	worker.postMessage({ type: "gate" });
	const gate = await message<{ peak: number }>(worker, "gate");
	const herdSeconds = Math.ceil(POLL_SECONDS * JITTER);
	log(`every device downloaded in ${round(downloadSeconds, 1)} s (ideal ${round(ideal, 1)} s); ${stats.checkins} check-ins in ${round(stats.elapsedSeconds, 1)} s; requests ${JSON.stringify(fleet.requests.counts)}; failures ${JSON.stringify(fleet.requests.failureReasons().slice(0, 3))}`);
	log(`polls a second over the first ${herdSeconds} s: ${stats.pollsPerSecond.slice(0, herdSeconds).join(" ")}`);
	log(`all requests' peak over mean in those seconds: ${round(peakOverMean(stats.requestsPerSecond, 0, herdSeconds), 3)}`);
	await fleet.stop();
	worker.postMessage({ type: "stop" });
	await message(worker, "stopped");
	await worker.terminate();
	return {
		fleet_checkins_per_s: round(stats.checkinsPerSecond, 1),
		fleet_checkin_p99_ms: round(stats.checkinP99Ms, 1),
		herd_peak_over_mean: round(peakOverMean(stats.pollsPerSecond, 0, herdSeconds), 3),
		max_concurrent_downloads: gate.peak,
		rollout_overhead_vs_ideal: round(downloadSeconds / ideal, 3),
	};
}
