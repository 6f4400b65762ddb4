// xs-fota build: a firmware image from a Moddable manifest, with its version (and any config values) written into
// mc/config as mcconfig's name=value arguments write them, so the firmware reports the version its image claims.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildEsp32, buildLin, configureEsp32 } from "../builder/mcconfig.js";
import { buildSim } from "../builder/sim.js";
import { CliError, USAGE } from "./errors.js";
import type { Command } from "./options.js";

const ROOT = resolve(fileURLToPath(import.meta.url), "../../../../..");
const PLATFORMS = ["sim", "lin", "esp32"];
const VERSION = /^[\x21-\x7e]{1,32}$/;

/** name=value pairs; every value is a string, as mcconfig passes its name=value arguments */
function configValues(pairs: string[]): Record<string, string> {
	const config: Record<string, string> = {};
	for (const pair of pairs) {
		const at = pair.indexOf("=");
		const name = pair.slice(0, at);
		if (at <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
			throw new CliError(`--config takes name=value with an identifier for a name, not ${JSON.stringify(pair)}`, USAGE);
		if (name === "version")
			throw new CliError("the version is --version: the image header carries it too, so it is not a --config value", USAGE);
		config[name] = pair.slice(at + 1);
	}
	return config;
}

export const build: Command = {
	name: "build",
	usage: `usage: xs-fota build --platform sim|lin|esp32 --version V [--config name=value ...] --out FILE
       xs-fota build --platform esp32 --version V [--config name=value ...] --configure DIR

Builds the example firmware (the repository's manifest.json) as an image of that platform's kind, with V as its
version in mc/config and in the image header, so the two cannot disagree. --config adds mc/config values (as
mcconfig's name=value arguments do), e.g. --config fault=fail.
  sim    a sim image for \`xsfota-sim board\` (needs \`npm run build\` only)
  lin    an mc.so built by mcconfig -p lin, wrapped as a lin image, for \`xs-fota mcsim\` (needs $MODDABLE)
  esp32  the ESP-IDF app image that mcconfig -p esp32 builds (needs $MODDABLE and $IDF_PATH)
For esp32 the configuration is generated first and its sdkconfig set straight (each option once: Moddable's merge
leaves the SDK's "# NAME is not set" before our NAME=y, and NAME= for n), then built with mcconfig's makefile.
--configure DIR only generates that configuration into DIR (no ESP-IDF needed) and prints the sdkconfig and the
makefile: \`make -f MAKEFILE\` then builds, flashes and opens the console, as mcconfig -m would.`,
	options: { platform: { required: true }, version: { required: true }, config: { multiple: true }, out: {}, configure: {} },
	run(values, lists) {
		const platform = values.platform!;
		if (!PLATFORMS.includes(platform))
			throw new CliError(`--platform must be one of ${PLATFORMS.join(", ")}, not ${JSON.stringify(platform)}`, USAGE);
		const version = values.version!;
		if (!VERSION.test(version))
			throw new CliError("--version must be 1 to 32 printable ASCII characters without spaces", USAGE);
		const config = configValues(lists.config ?? []);
		if ((values.out === undefined) === (values.configure === undefined))
			throw new CliError("give --out FILE (build an image) or --configure DIR (esp32: generate the build only)", USAGE);
		if (values.configure !== undefined) {
			if (platform !== "esp32")
				throw new CliError("--configure is for --platform esp32", USAGE);
			const moddable = process.env.MODDABLE;
			if (!moddable)
				throw new CliError("build: --configure runs mcconfig: set MODDABLE to a built Moddable SDK");
			try {
				const made = configureEsp32({ manifest: join(ROOT, "manifest.json"), version, config, out: resolve(values.configure), moddable, root: ROOT, debug: true });
				console.log(`sdkconfig ${made.sdkconfig}${made.changes.length ? ` (${made.changes.length} lines set straight)` : ""}\nmakefile  ${made.makefile}`);
			} catch (error) {
				throw new CliError(`build: ${(error as Error).message}`);
			}
			return;
		}
		let image: Buffer;
		try {
			if (platform === "sim") {
				if (!existsSync(join(ROOT, "build/sim/config.json")))
					throw new Error("the project is not built: run `npm run build` first");
				mkdirSync(join(ROOT, "build/js/generated"), { recursive: true });
				image = buildSim({ root: join(ROOT, "build/js"), sim: join(ROOT, "build/sim"), version, config,
					dir: mkdtempSync(join(ROOT, "build/js/generated/build-")) });
			}
			else {
				const moddable = process.env.MODDABLE;
				if (!moddable)
					throw new Error(`a ${platform} build runs mcconfig: set MODDABLE to a built Moddable SDK`);
				const options = { manifest: join(ROOT, "manifest.json"), version, config, out: mkdtempSync(join(tmpdir(), "xs-fota-build-")), moddable, root: ROOT };
				image = platform === "lin" ? buildLin(options) : buildEsp32(options);
			}
		} catch (error) {
			if (error instanceof CliError)
				throw error;
			throw new CliError(`build: ${(error as Error).message}`);
		}
		writeFileSync(values.out!, image);
		console.log(`built ${values.out}: ${platform} image of ${image.length} bytes, version ${version}${Object.keys(config).length ? `, config ${JSON.stringify(config)}` : ""}`);
	},
};
