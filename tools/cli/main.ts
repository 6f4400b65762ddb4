// xs-fota: the command-line tools. One file per command; this one dispatches.
import { build } from "./build.js";
import { fleetSim } from "./fleet-sim.js";
import { CliError, USAGE } from "./errors.js";
import { init } from "./init.js";
import { keygen } from "./keygen.js";
import { mcsim } from "./mcsim.js";
import { provision } from "./provision.js";
import { parseOptions, type Command } from "./options.js";
import { serve } from "./serve.js";
import { sign } from "./sign.js";
import { verify } from "./verify.js";
import { ADMIN_COMMANDS } from "./admin.js";
import { ROLLOUT_COMMANDS } from "./rollout.js";
import { CONFIG_COMMANDS } from "./config.js";
import { GATEWAY_COMMANDS } from "./gateway.js";

const COMMANDS: Command[] = [keygen, build, sign, verify, init, serve, provision, mcsim, fleetSim, ...ADMIN_COMMANDS, ...ROLLOUT_COMMANDS, ...CONFIG_COMMANDS, ...GATEWAY_COMMANDS];

const USAGE_TEXT = `usage: xs-fota <command> [options]

commands:
  keygen   make an Ed25519 signing key pair
  build    build the firmware as an image (sim, lin, esp32) with its version
  sign     sign an image: write manifest.xfm and copy the image beside it
  verify   check a manifest.xfm (and an image) as the device would
  init     make a development CA and a server certificate
  serve    run the management server over HTTPS (devices with mutual TLS)
  admin token create   make an admin API token (printed once)
  products add|list, keys add, publish, releases list, devices list|show|revoke, rollout create|list|show|pause|resume|abort
           the admin API, over HTTPS with a token (--server, --ca, --token or XSFOTA_SERVER, XSFOTA_CA, XSFOTA_TOKEN)
  config sign|push|show   sign a config document with a config key, upload it, show a device's config
           (its document, last known good, pending, failures and history; through the admin API like the above)
  provision  write a device's flash file (sim or lin): first image and device config
  mcsim    run a lin device in Moddable's desktop simulator, as its bootloader
  fleet-sim  run thousands of virtual devices against a server (load tests, demos), with a live summary
  gateway  run a gateway: an update server to the devices behind it, a client of the cloud (README "Gateways")
  gateway-launch  run the gateway under a launcher that applies its own updates and rolls back bad ones
  gateways register|show   which devices a gateway may act for (admin API); gateways cert: its identity

xs-fota <command> --help describes a command. The format is in docs/format.md.`;

export async function main(argv: string[]): Promise<number> {
	const [name] = argv;
	if (name === undefined || name === "--help" || name === "-h" || name === "help") {
		console.log(USAGE_TEXT);
		return name === undefined ? USAGE : 0;
	}
	// the command whose name's words start argv, the longest first ("admin token create")
	const command = COMMANDS.filter((candidate) => candidate.name.split(" ").every((word, index) => argv[index] === word))
		.sort((a, b) => b.name.split(" ").length - a.name.split(" ").length)[0];
	const rest = argv.slice(command ? command.name.split(" ").length : 1);
	try {
		if (!command)
			throw new CliError(`unknown command ${JSON.stringify(name)}\n\n${USAGE_TEXT}`, USAGE);
		const parsed = parseOptions(command, rest);
		if (parsed)
			await command.run(parsed.values, parsed.lists);
		return 0;
	}
	catch (error) {
		if (!(error instanceof CliError))
			throw error;
		console.error(`xs-fota ${command?.name ?? ""}: ${error.message}`.replace("xs-fota : ", "xs-fota: "));
		return error.exitCode;
	}
}
