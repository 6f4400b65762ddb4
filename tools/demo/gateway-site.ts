// A gateway beside a World (./world.ts), as a site would set one up: its own local CA and server certificate (which
// the devices behind it trust instead of the cloud's), its own device certificate from the fleet's device CA (its
// identity upstream), a config file for `xs-fota gateway`, and its registration at the cloud (the devices it may act
// for). The gateway runs in this process (Gateway) or as its own process (`xs-fota gateway`, which a test can
// SIGKILL); its port is fixed when the site is made, so a restarted gateway is found where the devices look.
// Used by the demo, the gateway tests and the gateway benchmark.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { makeDevCertificates, makeDeviceCertificate } from "../server/certificates.js";
import { Gateway } from "../gateway/gateway.js";
import { parseGatewayConfig } from "../gateway/config.js";
import { PRODUCT, ROOT, type World } from "./world.js";

export interface SiteOptions {
	/** the upstream, when it is not the world's server (another gateway): its URL and the PEM of its CA */
	upstream?: { url: string; ca: string };
	syncSeconds?: number;
	cacheBytes?: number;
	batchSize?: number;
	maxDownloads?: number;
	maxQueued?: number;
	timeoutSeconds?: number;
	/** the gateway's own product (its software's releases, signed with the world's key) and installed version */
	self?: { product: string; installed: string; trialSeconds?: number };
}

export class GatewaySite {
	readonly id: string;
	readonly dir: string;
	readonly configFile: string;
	/** PEM: the CA of the gateway's local certificate, which the devices behind it trust */
	readonly localCa: string;
	readonly url: string;
	readonly port: number;
	readonly #world: World;

	private constructor(world: World, id: string, dir: string, port: number, localCa: string) {
		this.#world = world;
		this.id = id;
		this.dir = dir;
		this.port = port;
		this.url = `https://localhost:${port}`;
		this.localCa = localCa;
		this.configFile = join(dir, "gateway.json");
	}

	/** Makes the site's certificates and config (the gateway is not started). */
	static async make(world: World, id: string, options: SiteOptions = {}): Promise<GatewaySite> {
		const dir = join(world.dir, "gateways", id);
		mkdirSync(dir, { recursive: true });
		const local = makeDevCertificates(join(dir, "local"));
		const identity = makeDeviceCertificate({ caCert: world.deviceCa.cert, caKey: world.deviceCa.key, deviceId: id });
		writeFileSync(join(dir, "gateway.key"), identity.key, { mode: 0o600 });
		writeFileSync(join(dir, "gateway.pem"), identity.cert);
		writeFileSync(join(dir, "device-ca.pem"), world.deviceCa.cert);
		writeFileSync(join(dir, "upstream-ca.pem"), options.upstream?.ca ?? readFileSync(world.certs.ca, "utf8"));
		const port = await freePort();
		const config = {
			upstream: options.upstream?.url ?? world.url,
			upstreamCa: "upstream-ca.pem",
			key: "gateway.key",
			cert: "gateway.pem",
			listen: { host: "127.0.0.1", port, cert: "local/server.pem", key: "local/server.key", deviceCa: "device-ca.pem" },
			state: "state",
			products: { [PRODUCT]: [{ keyId: world.keyId, publicKey: Buffer.from(world.publicKey).toString("hex") }] },
			syncSeconds: options.syncSeconds ?? 2,
			timeoutSeconds: options.timeoutSeconds ?? 5,
			...(options.cacheBytes !== undefined ? { cacheBytes: options.cacheBytes } : {}),
			...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
			...(options.maxDownloads !== undefined ? { maxDownloads: options.maxDownloads } : {}),
			...(options.maxQueued !== undefined ? { maxQueued: options.maxQueued } : {}),
			...(options.self ? { self: { ...options.self, keys: [{ keyId: world.keyId, publicKey: Buffer.from(world.publicKey).toString("hex") }] } } : {}),
		};
		writeFileSync(join(dir, "gateway.json"), JSON.stringify(config, null, 2));
		return new GatewaySite(world, id, dir, port, readFileSync(local.ca, "utf8"));
	}

	/** The gateway, run in this process. */
	async start(log?: (line: string) => void): Promise<Gateway> {
		const config = parseGatewayConfig(JSON.parse(readFileSync(this.configFile, "utf8")), dirname(this.configFile));
		const gateway = new Gateway({ config, ...(log ? { log } : {}) });
		await gateway.start();
		return gateway;
	}

	/** The gateway as its own process (`xs-fota gateway`); resolves once it serves. Its output goes to gateway.log. */
	async spawn(): Promise<ChildProcess> {
		const child = spawn(process.execPath, [join(ROOT, "bin/xs-fota.js"), "gateway", "--config", this.configFile], { stdio: ["ignore", "pipe", "pipe"] });
		let output = "";
		await new Promise<void>((resolve, reject) => {
			const look = (chunk: Buffer) => {
				output += chunk;
				writeFileSync(join(this.dir, "gateway.log"), output);
				if (/serving at https:/.test(output))
					resolve();
			};
			child.stdout!.on("data", look);
			child.stderr!.on("data", look);
			child.once("exit", (code) => reject(new Error(`xs-fota gateway ${this.id} exited (${code}) before it served: ${output}`)));
		});
		child.removeAllListeners("exit");
		return child;
	}

	/** Registers devices behind this gateway at the cloud (the world's store, as the admin API would). */
	register(deviceIds: string[]): Promise<void> {
		return this.#world.store.gateways.register(this.id, deviceIds, new Date());
	}

	/** The device config of a device behind this gateway: the world's, with the gateway's URL and CA. */
	deviceConfig(name: string, config: Record<string, unknown> = {}): Record<string, unknown> {
		return this.#world.deviceConfig(name, { server: this.url, ca: this.localCa, ...config });
	}
}

/** A TCP port free on loopback now. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const probe = createServer();
		probe.once("error", reject);
		probe.listen(0, "127.0.0.1", () => {
			const { port } = probe.address() as { port: number };
			probe.close(() => resolve(port));
		});
	});
}
