// A fleet of virtual devices in one process (./device.ts), against a real update server over HTTPS with mutual TLS:
// each device has its own certificate from the device CA (./certificates.ts, all for one shared key), its own
// keep-alive connection, its own flash and store, and its behaviour (ok, fail, hang, offline) drawn from a seeded hash
// of its id, so that a test can tell in advance which devices will fail. All devices start at once; the client's
// jitter spreads their first polls, as it would spread a real fleet's after an outage.
import { createHash } from "node:crypto";
import { parseDeviceConfig } from "../../modules/fota/config.js";
import type { Firmware } from "../../modules/fota/client.js";
import { nodeSha256 } from "../cli/keys.js";
import { FleetCertificates } from "./certificates.js";
import { VirtualDevice, type Behaviour, type DeviceState, type ManifestSeen } from "./device.js";
import { seededRandom } from "./node-ports.js";
import { NodeTransport, RequestLog } from "./transport.js";

export interface FleetOptions {
	/** the update server's base URL, https:// */
	server: string;
	/** PEM: the CA of the server's certificate, which every device pins */
	serverCa: string;
	/** the device CA's certificate and key, as PEM or as the paths of their files */
	deviceCa: { cert: string; key: string };
	product: string;
	/** how many devices */
	count: number;
	/** devices are <prefix>-00001, <prefix>-00002, ... (default "sim") */
	idPrefix?: string;
	/** the firmware every device starts with */
	version: string;
	/** its kind (default "sim") */
	kind?: string;
	/** the product's trusted signing keys, for the devices' config: key id and public key in hex */
	keys: { keyId: string; publicKey: string }[];
	/** the devices' poll interval (default 60) and its jitter, a fraction (default 0.5) */
	pollSeconds?: number;
	jitter?: number;
	/** the shares of devices that fail their trial, hang after "downloading", or are offline (each default 0) */
	failShare?: number;
	hangShare?: number;
	offlineShare?: number;
	/** picks the behaviours and seeds the devices' jitter (default 1) */
	seed?: number;
	/** bytes between the devices' download checkpoints (default 4096) */
	chunkBytes?: number;
	/** bytes per OTA slot (default 1.5 MiB) */
	slotSize?: number;
	/** a folder that keeps the devices' certificates between runs */
	certificateCache?: string;
	/** more device config fields, for every device (timeouts, deadlines) */
	config?: Record<string, unknown>;
	/** every event of every device's client */
	onEvent?: (device: VirtualDevice, type: string, fields: Record<string, unknown>) => void;
}

export interface FleetDevice {
	readonly id: string;
	readonly behaviour: Behaviour;
	/** the firmware version it runs now */
	readonly version: string;
	readonly state: DeviceState;
	readonly manifestsSeen: readonly ManifestSeen[];
	readonly lastError: string | undefined;
	readonly reboots: number;
	/** when its last verified download ended (performance.now()) */
	readonly verifiedAt: number | undefined;
}

export interface FleetStats {
	/** seconds since the fleet started */
	elapsedSeconds: number;
	devices: number;
	/** manifest fetches and reports answered by the server */
	checkins: number;
	/** check-ins a second, since the start */
	checkinsPerSecond: number;
	/** the 99th percentile of the check-ins' latency (request to the response's end), ms */
	checkinP99Ms: number;
	/** requests begun in each second since the start */
	requestsPerSecond: number[];
	/** polls (manifest fetches) begun in each second since the start: the herd's shape */
	pollsPerSecond: number[];
	/** requests that failed (no answer, a cut, a timeout) */
	requestFailures: number;
	byVersion: Record<string, number>;
	byState: Record<string, number>;
	byBehaviour: Record<string, number>;
}

export interface Fleet {
	readonly devices: readonly FleetDevice[];
	/** every request of every device */
	readonly requests: RequestLog;
	stats(): FleetStats;
	/** Resolves when predicate(fleet) holds (checked every 100 ms); rejects after timeoutMs with the fleet's counts. */
	waitFor(predicate: (fleet: Fleet) => boolean, timeoutMs: number): Promise<void>;
	/** Switches every device off and closes its connection. */
	stop(): Promise<void>;
}

const SHARES = ["offlineShare", "hangShare", "failShare"] as const;

/** A number in [0, 1) from a hash of the seed and the text: the same for the same device in every run. */
export function hashShare(seed: number, text: string): number {
	return createHash("sha256").update(`${seed}:${text}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** A device's behaviour: its hash share falls in the offline share first, then the hang share, then the fail share. */
export function behaviourOf(deviceId: string, options: Pick<FleetOptions, "seed" | "failShare" | "hangShare" | "offlineShare">): Behaviour {
	const share = hashShare(options.seed ?? 1, deviceId);
	let bound = 0;
	for (const [name, behaviour] of [["offlineShare", "offline"], ["hangShare", "hang"], ["failShare", "fail"]] as const) {
		bound += options[name] ?? 0;
		if (share < bound)
			return behaviour;
	}
	return "ok";
}

/** The id of the n-th device (from 1): <prefix>-00001. */
export function deviceId(prefix: string, n: number): string {
	return `${prefix}-${String(n).padStart(5, "0")}`;
}

function count(into: Record<string, number>, key: string): void {
	into[key] = (into[key] ?? 0) + 1;
}

function checkOptions(options: FleetOptions): void {
	if (!Number.isInteger(options.count) || options.count < 1)
		throw new RangeError(`the fleet's count must be a positive integer, not ${options.count}`);
	let total = 0;
	for (const name of SHARES) {
		const share = options[name] ?? 0;
		if (!(share >= 0 && share <= 1))
			throw new RangeError(`${name} must be from 0 to 1, not ${share}`);
		total += share;
	}
	if (total > 1 + 1e-9)
		throw new RangeError(`the shares of failing, hanging and offline devices add up to ${total}, more than 1`);
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
	checkOptions(options);
	const prefix = options.idPrefix ?? "sim";
	const seed = options.seed ?? 1;
	const certificates = new FleetCertificates({ caCert: options.deviceCa.cert, caKey: options.deviceCa.key, ...(options.certificateCache ? { cacheDir: options.certificateCache } : {}) });
	const firmware: Firmware = { version: options.version, kind: options.kind ?? "sim" };
	const requests = new RequestLog();
	const devices: VirtualDevice[] = [];
	const transports: NodeTransport[] = [];
	for (let n = 1; n <= options.count; n++) {
		const id = deviceId(prefix, n);
		const clientCertificates = certificates.certificate(id);
		const config = parseDeviceConfig({
			deviceId: id,
			product: options.product,
			server: options.server,
			ca: options.serverCa,
			clientKey: certificates.key,
			clientCertificates,
			keys: options.keys,
			pollSeconds: options.pollSeconds ?? 60,
			jitter: options.jitter ?? 0.5,
			chunkBytes: options.chunkBytes ?? 4096,
			...options.config,
		}, nodeSha256);
		const transport = new NodeTransport({ ca: options.serverCa, clientKey: certificates.key, clientCertificates }, requests);
		transports.push(transport);
		devices.push(new VirtualDevice({
			config,
			behaviour: behaviourOf(id, options),
			firmware,
			transport,
			random: seededRandom(hashShare(seed, `${id}/jitter`) * 2 ** 32),
			...(options.slotSize ? { slotSize: options.slotSize } : {}),
			...(options.onEvent ? { onEvent: options.onEvent } : {}),
		}));
		if (n % 500 === 0)
			await new Promise((resolve) => setImmediate(resolve)); // a large fleet is made without blocking the loop
	}
	certificates.save();
	const started = requests.origin = performance.now();
	for (const device of devices)
		device.start();
	const fleet: Fleet = {
		devices,
		requests,
		stats(): FleetStats {
			const elapsedSeconds = (performance.now() - started) / 1000;
			const byVersion: Record<string, number> = {}, byState: Record<string, number> = {}, byBehaviour: Record<string, number> = {};
			for (const device of devices) {
				count(byVersion, device.version);
				count(byState, device.state);
				count(byBehaviour, device.behaviour);
			}
			return {
				elapsedSeconds,
				devices: devices.length,
				checkins: requests.checkins,
				checkinsPerSecond: elapsedSeconds > 0 ? requests.checkins / elapsedSeconds : 0,
				checkinP99Ms: requests.latency(0.99),
				requestsPerSecond: [...requests.perSecond],
				pollsPerSecond: [...requests.pollsPerSecond],
				requestFailures: requests.failures,
				byVersion,
				byState,
				byBehaviour,
			};
		},
		waitFor(predicate, timeoutMs) {
			return new Promise((resolve, reject) => {
				const deadline = performance.now() + timeoutMs;
				const look = () => {
					let holds: boolean;
					try {
						holds = predicate(fleet);
					} catch (error) {
						return reject(error);
					}
					if (holds)
						return resolve();
					if (performance.now() > deadline) {
						const { byVersion, byState } = fleet.stats();
						return reject(new Error(`the fleet did not get there within ${timeoutMs} ms: versions ${JSON.stringify(byVersion)}, states ${JSON.stringify(byState)}`));
					}
					setTimeout(look, 100);
				};
				look();
			});
		},
		async stop() {
			for (const device of devices)
				device.stop();
			for (const transport of transports)
				transport.close();
		},
	};
	return fleet;
}
