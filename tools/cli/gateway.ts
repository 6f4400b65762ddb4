// xs-fota gateway: runs a gateway (tools/gateway/gateway.ts) from its config file until SIGINT or SIGTERM; and
// xs-fota gateways register|show: an admin's say over which devices a gateway may act for, through the admin API.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { CliError, USAGE } from "./errors.js";
import { CLIENT_OPTIONS, CLIENT_USAGE, client, show } from "./admin.js";
import type { Command } from "./options.js";
import { Gateway } from "../gateway/gateway.js";
import { GatewayConfigError, parseGatewayConfig } from "../gateway/config.js";
import { adminPaths } from "../server/admin-api.js";

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
  cacheBytes (1 GiB), maxDownloads (100), syncSeconds (60), batchSize (50), timeoutSeconds (10)`,
	options: { config: { required: true }, quiet: { flag: true } },
	async run(values) {
		const file = resolve(values.config!);
		let config;
		try {
			config = parseGatewayConfig(JSON.parse(readFileSync(file, "utf8")), dirname(file));
		} catch (error) {
			if (error instanceof GatewayConfigError || error instanceof SyntaxError || (error as NodeJS.ErrnoException).code)
				throw new CliError(`${file}: ${(error as Error).message}`);
			throw error;
		}
		const running = new Gateway({ config, ...(values.quiet === "true" ? {} : { log: (line: string) => console.log(line) }) });
		let address;
		try {
			address = await running.start();
		} catch (error) {
			await running.close().catch(() => {});
			throw new CliError(`cannot start the gateway: ${(error as Error).message}`);
		}
		console.log(`gateway ${config.id} serving at ${address.url}`);
		await new Promise<void>((done) => {
			for (const signal of ["SIGINT", "SIGTERM"] as const)
				process.once(signal, () => done());
		});
		await running.close();
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

export const GATEWAY_COMMANDS: Command[] = [gateway, gatewaysRegister, gatewaysShow];
