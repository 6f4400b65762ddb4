// xs-fota mcsim: runs a lin device (a flash file with lin images) in Moddable's desktop simulator, acting as its
// bootloader across resets (tools/sim/mcsim.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./errors.js";
import { findMcsim, launch } from "../sim/mcsim.js";
import { integerOption, type Command } from "./options.js";

const HOST = resolve(fileURLToPath(import.meta.url), "../../../../sim/xsfota-sim");

export const mcsim: Command = {
	name: "mcsim",
	usage: `usage: xs-fota mcsim --flash FILE [--log events.jsonl] [--max-boots N] [--mcsim PATH] [--headless]

Runs the device whose flash file is FILE (made by \`xs-fota provision\` with a lin image, built by mcconfig
-p lin) in Moddable's desktop simulator. It is the device's bootloader: each boot picks the slot by ESP-IDF's
rules, starts mcsim on that slot's mc.so, and boots again when the firmware resets, so that an image that
resets while pending is rolled back. --mcsim defaults to $MODDABLE's; --headless (the default without
DISPLAY) runs it under xvfb-run. Events go to --log as JSON Lines. Ctrl-C stops it.`,
	options: { flash: { required: true }, log: {}, "max-boots": {}, mcsim: {}, headless: { flag: true } },
	async run(values) {
		let mcsimPath;
		try {
			mcsimPath = values.mcsim ?? findMcsim(process.env.MODDABLE);
		} catch (error) {
			throw new CliError((error as Error).message);
		}
		const work = mkdtempSync(join(tmpdir(), "xs-fota-mcsim-")); // unpacked mc.so files and mcsim's HOME
		const running = launch({
			flash: resolve(values.flash!),
			host: HOST,
			mcsim: mcsimPath,
			work,
			...(values.log ? { log: resolve(values.log) } : {}),
			...(values["max-boots"] ? { maxBoots: integerOption("max-boots", values["max-boots"], 100000) } : {}),
			...(values.headless === "true" ? { headless: true } : {}),
			say: (line) => console.log(line),
		});
		const stop = () => running.stop();
		process.once("SIGINT", stop);
		process.once("SIGTERM", stop);
		let status;
		try {
			status = await running.done;
		} catch (error) {
			throw new CliError(`mcsim: ${(error as Error).message}`);
		} finally {
			rmSync(work, { recursive: true, force: true });
			process.off("SIGINT", stop);
			process.off("SIGTERM", stop);
		}
		if (status !== 0)
			throw new CliError(`mcsim: the device stopped (status ${status})`);
	},
};
