// xs-fota gateway: runs a gateway (tools/gateway/gateway.ts) from its config file until SIGINT or SIGTERM (or until a
// new version of itself is pending: then it exits with RESTART_EXIT for its launcher); xs-fota gateway-launch: the
// launcher (tools/gateway/launcher.ts), which keeps the gateway on a good version of itself; and
// xs-fota gateways register|show: an admin's say over which devices a gateway may act for, through the admin API.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { makeDeviceCertificate } from "../server/certificates.js";
import { CliError, USAGE } from "./errors.js";
import { CLIENT_OPTIONS, CLIENT_USAGE, client, show } from "./admin.js";
import type { Command } from "./options.js";
import { Gateway } from "../gateway/gateway.js";
import { GatewayConfigError, parseGatewayConfig, type GatewayConfig } from "../gateway/config.js";
import { adminPaths } from "../server/admin-api.js";
import { launch } from "../gateway/launcher.js";
import { RESTART_EXIT } from "../gateway/self-update.js";
import { fileURLToPath } from "node:url";

/** The gateway's config from its file, checked; a CliError naming the file and the field otherwise. */
function loadConfig(path: string): { file: string; config: GatewayConfig } {
	const file = resolve(path);
	try {
		return { file, config: parseGatewayConfig(JSON.parse(readFileSync(file, "utf8")), dirname(file)) };
	} catch (error) {
		if (error instanceof GatewayConfigError || error instanceof SyntaxError || (error as NodeJS.ErrnoException).code)
			throw new CliError(`${file}: ${(error as Error).message}`);
		throw error;
	}
}

export const gateway: Command = {
	name: "gateway",
	usage: `usage: xs-fota gateway --config FILE [--quiet]

Runs a gateway: an update server to the devices behind it, and a client of its upstream (the cloud's server or another
gateway) with its own device certificate. It passes each device's signed manifest on unchanged, fetches each image
once and verifies it before it serves a byte, and keeps the devices' reports in a queue on the disk until the upstream
has them. The config (JSON; paths relative to it; README "Gateways"):
  upstream      https:// URL of the upstream          upstreamCa   the CA of the upstream's certificate
  key, cert     the gateway's own key and certificate from the fleet's device CA (CN = the gateway's id)
  listen        {host, port, cert, key, deviceCa}: where the devices reach it, its certificate (from a CA their
                configs trust) and the device CA their certificates come from
  state         folder for state.db (queue, devices, cache index) and the images
  products      {"<product>": [{keyId, publicKey}]}: the products it serves and their trusted keys
  cacheBytes (1 GiB), maxDownloads (100), syncSeconds (60), batchSize (50), maxQueued (100000), timeoutSeconds (10)
  self          {product, keys, installed, trialSeconds}: the gateway's own software (see xs-fota gateway-launch)`,
	options: { config: { required: true }, quiet: { flag: true }, "self-version": {} },
	async run(values) {
		const { file: _, config } = loadConfig(values.config!);
		let restart = false;
		let stopped: () => void = () => {};
		const running = new Gateway({ config, ...(values.quiet === "true" ? {} : { log: (line: string) => console.log(line) }),
			...(values["self-version"] !== undefined ? { version: values["self-version"] } : {}),
			restart: () => {
				restart = true;
				stopped();
			} });
		let address;
		try {
			address = await running.start();
		} catch (error) {
			await running.close().catch(() => {});
			throw new CliError(`cannot start the gateway: ${(error as Error).message}`);
		}
		console.log(`gateway ${config.id} serving at ${address.url}`);
		await new Promise<void>((done) => {
			stopped = done;
			for (const signal of ["SIGINT", "SIGTERM"] as const)
				process.once(signal, () => done());
		});
		await running.close();
		if (restart) // a new version of the gateway is pending: its launcher starts it
			throw new CliError("restarting into the pending version", RESTART_EXIT);
	},
};

const gatewayLaunch: Command = {
	name: "gateway-launch",
	usage: `usage: xs-fota gateway-launch --config FILE

Runs the gateway (xs-fota gateway) as a child and keeps it on a good version of itself: the config's "self"
({product, keys, installed, trialSeconds}) names the gateway's own product, whose releases are gzipped tars of the
program, signed and verified like any other. A new version is fetched, verified and unpacked by the gateway, which
then exits for this launcher to start it; one that does not come up within trialSeconds (default 60) is rolled back.
Run this under the host's process supervisor (systemd Restart=always, runit, s6, ...): README "Gateways".`,
	options: { config: { required: true } },
	async run(values) {
		const { file, config } = loadConfig(values.config!);
		if (!config.self)
			throw new CliError(`${file}: the config has no "self": nothing for the launcher to update; run xs-fota gateway`);
		const code = await launch({ config, configFile: file, installed: fileURLToPath(new URL("../../../../bin/xs-fota.js", import.meta.url)), log: (line) => console.log(line) });
		if (code !== 0)
			throw new CliError(`the gateway exited with ${code}`, code);
	},
};

const gatewaysRegister: Command = {
	name: "gateways register",
	positionals: ["gateway"],
	usage: `usage: xs-fota gateways register GATEWAY [--device ID]... [--remove ID]... [--server URL] [--ca FILE] [--token T]

Registers devices behind the gateway (a device behind another gateway moves), or removes them: the gateway may ask and
report for these devices, and only these. ${CLIENT_USAGE}`,
	options: { device: { multiple: true }, remove: { multiple: true }, ...CLIENT_OPTIONS },
	async run(values, lists) {
		if (!lists.device!.length && !lists.remove!.length)
			throw new CliError(`name at least one --device or --remove\n\n${gatewaysRegister.usage}`, USAGE);
		show(await client(values)("POST", adminPaths.gatewayDevices(values.gateway!), { devices: lists.device, remove: lists.remove }));
	},
};

const gatewaysShow: Command = {
	name: "gateways show",
	positionals: ["gateway"],
	usage: `usage: xs-fota gateways show GATEWAY [--server URL] [--ca FILE] [--token T]\n\nThe devices registered behind the gateway. ${CLIENT_USAGE}`,
	options: { ...CLIENT_OPTIONS },
	async run(values) {
		show(await client(values)("GET", adminPaths.gatewayDevices(values.gateway!)));
	},
};

const gatewaysCert: Command = {
	name: "gateways cert",
	positionals: ["gateway"],
	usage: `usage: xs-fota gateways cert GATEWAY --device-ca DIR --out DIR

The gateway's identity at its upstream: a new key (OUT/GATEWAY.key, mode 0600) and a certificate for it
(OUT/GATEWAY.pem, CN=GATEWAY) from the fleet's device CA (DIR holds device-ca.pem and device-ca.key, as xs-fota init
writes them), like a device's. Refuses to overwrite.`,
	options: { "device-ca": { required: true }, out: { required: true } },
	run(values) {
		const id = values.gateway!;
		const caCert = join(values["device-ca"]!, "device-ca.pem"), caKey = join(values["device-ca"]!, "device-ca.key");
		for (const path of [caCert, caKey])
			if (!existsSync(path))
				throw new CliError(`${path} is missing: --device-ca names the folder where xs-fota init wrote device-ca.pem and device-ca.key`);
		const key = join(values.out!, `${id}.key`), cert = join(values.out!, `${id}.pem`);
		for (const path of [key, cert])
			if (existsSync(path))
				throw new CliError(`${path} exists; refusing to overwrite it`);
		let made;
		try {
			made = makeDeviceCertificate({ caCert, caKey, deviceId: id });
		} catch (error) {
			throw new CliError(`gateways cert ${id}: ${(error as Error).message}`);
		}
		mkdirSync(values.out!, { recursive: true });
		writeFileSync(key, made.key, { mode: 0o600 });
		writeFileSync(cert, made.cert);
		console.log(`wrote ${key} and ${cert}`);
	},
};

export const GATEWAY_COMMANDS: Command[] = [gateway, gatewayLaunch, gatewaysRegister, gatewaysShow, gatewaysCert];
