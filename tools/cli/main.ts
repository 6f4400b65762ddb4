// xs-fota: the command-line tools. One file per command; this one dispatches.
import { build } from "./build.js";
import { CliError, USAGE } from "./errors.js";
import { init } from "./init.js";
import { keygen } from "./keygen.js";
import { mcsim } from "./mcsim.js";
import { provision } from "./provision.js";
import { parseOptions, type Command } from "./options.js";
import { serve } from "./serve.js";
import { sign } from "./sign.js";
import { verify } from "./verify.js";

const COMMANDS: Command[] = [keygen, build, sign, verify, init, serve, provision, mcsim];

const USAGE_TEXT = `usage: xs-fota <command> [options]

commands:
  keygen   make an Ed25519 signing key pair
  build    build the firmware as an image (sim, lin, esp32) with its version
  sign     sign an image: write manifest.xfm and copy the image beside it
  verify   check a manifest.xfm (and an image) as the device would
  init     make a development CA and a server certificate
  serve    run the update server over HTTPS
  provision  write a device's flash file (sim or lin): first image and device config
  mcsim    run a lin device in Moddable's desktop simulator, as its bootloader

xs-fota <command> --help describes a command. The format is in docs/format.md.`;

export async function main(argv: string[]): Promise<number> {
	const [name, ...rest] = argv;
	if (name === undefined || name === "--help" || name === "-h" || name === "help") {
		console.log(USAGE_TEXT);
		return name === undefined ? USAGE : 0;
	}
	const command = COMMANDS.find((candidate) => candidate.name === name);
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
