// One virtual device: the real update client (modules/fota/client.ts) over in-memory flash (./memory-flash.ts), a
// store in a Map, real time, node:crypto's Ed25519 and a real HTTPS transport with the device's own certificate
// (./transport.ts). It lives as a device does: boot() (the trial of a new image), then start() polling; when the
// client reboots it (an activation, a rollback), the bootloader's rules pick the slot, and a new client runs the
// firmware that the slot's image header names, from boot() again.
//
// Its behaviour is one of:
//   ok       updates like a healthy device
//   fail     the trial's self-test fails on any image but the one it started with: it rolls back, reports rolled-back
//   hang     once it has reported "downloading" for a release, it goes silent: no poll, no report, ever
//   offline  never reaches the server (every request fails at once, as with no network)
import { FotaClient, type Firmware } from "../../modules/fota/client.js";
import type { DeviceConfig } from "../../modules/fota/config.js";
import type { ReportState } from "../../modules/fota/protocol.js";
import type { HttpRequest, ResponseSink, Transport } from "../../modules/fota/ports.js";
import { MemoryFlash } from "./memory-flash.js";
import { IdleWatchdog, MapStore, RealClock, strictVerifier } from "./node-ports.js";
import { firmwareIn } from "./image.js";

export const BEHAVIOURS = ["ok", "fail", "hang", "offline"] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

/** What a device is doing, as the fleet's summary counts it: the last state it reported, or what it is otherwise. */
export type DeviceState = ReportState | "idle" | "hung" | "offline" | "stopped";

/** A manifest version the device received (a "manifest" event of its client): when first and last, how often. */
export interface ManifestSeen {
	version: string;
	first: number;
	last: number;
	count: number;
}

export interface VirtualDeviceOptions {
	config: DeviceConfig;
	behaviour: Behaviour;
	/** the firmware the device starts with, in slot 0, valid */
	firmware: Firmware;
	/** the transport to the server (the device's own certificate); not used by an offline device */
	transport: Transport;
	/** [0, 1) numbers for the client's jitter */
	random: () => number;
	/** bytes per OTA slot (default 1.5 MiB) */
	slotSize?: number;
	/** every event of the client, for logs */
	onEvent?: (device: VirtualDevice, type: string, fields: Record<string, unknown>) => void;
}

/** A request that is never sent and never answered: a device gone silent. */
const SILENT = { abort() {} };

export class VirtualDevice {
	readonly id: string;
	readonly behaviour: Behaviour;
	readonly flash: MemoryFlash;
	readonly store = new MapStore();
	readonly manifestsSeen: ManifestSeen[] = [];
	/** the firmware running now */
	firmware: Firmware;
	state: DeviceState = "idle";
	lastError: string | undefined;
	reboots = 0;
	checks = 0;
	/** when the last image download of a release was verified (performance.now()), and how many were */
	verifiedAt: number | undefined;
	verified = 0;
	readonly #options: VirtualDeviceOptions;
	readonly #started: Firmware;
	readonly #clock: RealClock;
	readonly #transport: Transport;
	#client: FotaClient | undefined;
	#stopped = false;
	#silent = false;

	constructor(options: VirtualDeviceOptions) {
		this.#options = options;
		this.id = options.config.deviceId;
		this.behaviour = options.behaviour;
		this.firmware = this.#started = options.firmware;
		this.#clock = new RealClock(options.random);
		this.flash = new MemoryFlash({ slotSize: options.slotSize ?? 1536 * 1024, onReboot: (reason) => this.#reboot(reason) });
		if (options.behaviour === "offline")
			this.state = "offline";
		const real = options.transport;
		this.#transport = {
			request: (request: HttpRequest, sink: ResponseSink) => {
				if (this.#silent || this.#stopped)
					return SILENT;
				if (this.behaviour === "offline") {
					setImmediate(() => sink.done("network unreachable"));
					return SILENT;
				}
				return real.request(request, sink);
			},
		};
	}

	get version(): string {
		return this.firmware.version;
	}

	/** Powers the device on: boot, then polling. */
	start(): void {
		this.flash.boot("power-on");
		void this.#run();
	}

	/** Powers it off: no more requests; what is in flight is dropped. */
	stop(): void {
		this.#stopped = true;
		this.#clock.stop();
		this.#client?.stop();
		this.#client = undefined;
		if (this.state !== "hung" && this.state !== "offline")
			this.state = "stopped";
	}

	async #run(): Promise<void> {
		// what runs is what the slot that booted holds; the first image was never written, so it is the one started with
		const running = this.flash.running();
		this.firmware = firmwareIn(this.flash, running) ?? (running.index === 0 ? this.#started : { version: "unreadable", kind: this.#started.kind });
		const fails = this.behaviour === "fail";
		const client = new FotaClient({
			config: this.#options.config,
			firmware: this.firmware,
			ports: {
				transport: this.#transport,
				flash: this.flash,
				verifier: strictVerifier,
				watchdog: new IdleWatchdog(),
				store: this.store,
				clock: this.#clock,
				events: (type, fields) => this.#event(type, fields),
			},
			selfTest: [{
				name: "app",
				run: () => {
					if (fails && this.firmware.version !== this.#started.version)
						throw new Error(`simulated fault of ${this.id} on ${this.firmware.version}`);
				},
			}],
		});
		this.#client = client;
		try {
			await client.boot();
		} catch (error) {
			if (this.#client !== client)
				return; // the trial rebooted the device (a rollback): the next boot has begun
			this.lastError = (error as Error).message;
		}
		if (this.#client !== client || this.#stopped || this.#silent)
			return;
		client.start();
	}

	/** The client reboots the device: its code stops here, and the bootloader starts the slot otadata names. */
	#reboot(_reason: "restart" | "invalid"): void {
		this.#client?.stop();
		this.#client = undefined;
		this.reboots++;
		setImmediate(() => {
			if (this.#stopped)
				return;
			this.flash.boot("software");
			void this.#run();
		});
	}

	#event(type: string, fields: Record<string, unknown>): void {
		if (type === "check")
			this.checks++;
		else if (type === "manifest") {
			const version = String(fields.version);
			const now = Date.now();
			const seen = this.manifestsSeen.find((entry) => entry.version === version);
			if (seen) {
				seen.last = now;
				seen.count++;
			}
			else
				this.manifestsSeen.push({ version, first: now, last: now, count: 1 });
		}
		else if (type === "report") {
			if (fields.ok)
				this.state = fields.state as ReportState;
			else
				this.lastError = String(fields.error);
			if (fields.state === "downloading" && this.behaviour === "hang")
				this.#goSilent();
		}
		else if (type === "verified") {
			this.verified++;
			this.verifiedAt = performance.now();
		}
		else if (type === "error" || type === "reject")
			this.lastError = String(fields.detail ?? fields.reason);
		this.#options.onEvent?.(this, type, fields);
	}

	/** A hang: nothing more leaves the device. What the client has in flight ends at its own deadlines. */
	#goSilent(): void {
		this.#silent = true;
		this.state = "hung";
		this.#client?.stop();
	}
}
