// A device and a server wired together in Node: the client's real code over fakes of every port.
import { FotaClient, type ClientOptions } from "../../../modules/fota/client.js";
import { parseDeviceConfig, type DeviceConfig } from "../../../modules/fota/config.js";
import { toHex } from "../../../modules/fota/hex.js";
import { nodeSha256 } from "../../../tools/cli/keys.js";
import { FakeFlash, Reboot } from "../fakes/flash.js";
import type { Ports, ResetCause } from "../../../modules/fota/ports.js";
import { FakeServer } from "../fakes/server.js";
import { FakeWatchdog, FastClock, MapStore, nodeVerifier } from "../fakes/device.js";
import { makeKey, signRelease, type ReleaseFields, type SigningKey } from "./release.js";

export const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
export const MANIFEST_PATH = "/v1/products/demo-board/manifest";

export class Rig {
	key: SigningKey = makeKey();
	server = new FakeServer();
	flash = new FakeFlash();
	store = new MapStore();
	clock = new FastClock();
	watchdog = new FakeWatchdog();
	events: { type: string; [field: string]: unknown }[] = [];
	config: DeviceConfig;
	version = "1.0.0";

	constructor(overrides: Record<string, unknown> = {}) {
		this.config = parseDeviceConfig({
			deviceId: "dev-1",
			product: "demo-board",
			server: "https://updates.test",
			ca: CA,
			keys: [{ keyId: this.key.keyId, publicKey: toHex(this.key.publicKey) }],
			pollSeconds: 60,
			chunkBytes: 8192,
			selftestSeconds: 30,
			// no rate bound unless a test is about it: the fast clock makes its window 300 ms of real time, which a
			// loaded machine can stall past, and a retry it causes would change what the tests count
			minRateBytesPerSecond: 0,
			...overrides,
		}, nodeSha256);
	}
	publish(image: Uint8Array, fields: ReleaseFields, key: SigningKey = this.key): Uint8Array {
		this.server.put(`/v1/products/demo-board/images/${fields.version}.bin`, image);
		const manifest = signRelease(image, fields, key);
		this.server.put(MANIFEST_PATH, manifest);
		return manifest;
	}
	/** The device's ports: the fakes, or some of them replaced. */
	ports(overrides: Partial<Ports> = {}): Ports {
		return {
			transport: this.server,
			flash: this.flash,
			verifier: nodeVerifier,
			watchdog: this.watchdog,
			store: this.store,
			clock: this.clock,
			events: (type, fields) => this.events.push({ type, ...fields }),
			...overrides,
		};
	}
	client(options: Partial<ClientOptions> = {}): FotaClient {
		return new FotaClient({
			config: this.config,
			firmware: { version: this.version, kind: "sim" },
			ports: this.ports(),
			watchdogMs: 2000,
			...options,
		});
	}
	/** Runs one check; returns "reboot" when the client rebooted the device. */
	async check(client = this.client()): Promise<unknown> {
		try {
			return await client.check();
		} catch (error) {
			if (error instanceof Reboot)
				return "reboot";
			throw error;
		}
	}
	/** Resets the device through the bootloader, now running the image that booted; cause is why (a restart,
	 * a crash, the watchdog: "software" by default; "power-on" for a power cut). */
	reset(version?: string, cause: ResetCause = "software"): void {
		this.flash.boot(cause);
		if (version)
			this.version = version;
	}
	slotBytes(index: number, length: number): Uint8Array {
		return this.flash.read(this.flash.slots[index]!.slot, 0, length);
	}
	types(): string[] {
		return this.events.map((event) => event.type);
	}
}
