// xs-fota provision: a sim device's flash file with a first image and the device config.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./errors.js";
import { parseDeviceConfig } from "../../modules/fota/config.js";
import { provision as provisionFlash, writeDeviceConfig } from "../sim/flash.js";
import { readImage } from "../sim/image.js";
import type { Command } from "./options.js";

const PARTITIONS = resolve(fileURLToPath(import.meta.url), "../../../../../hosts/esp32/partitions.csv");

export const provision: Command = {
	name: "provision",
	usage: `usage: xs-fota provision --flash FILE --config DEVICE.json [--image FIRST.img] [--force]

Writes the device config (identity, server URL, CA, trusted keys, schedule: see README "Device config") into
the fotacfg partition of a flash file (a sim device, or a lin device for \`xs-fota mcsim\`), checked as the device will check it. With --image, first makes a
fresh flash file (laid out by hosts/esp32/partitions.csv) with that image in ota_0; --force allows replacing
an existing file. Without --image, only the config of an existing flash file is replaced.`,
	options: { flash: { required: true }, config: { required: true }, image: {}, force: { flag: true } },
	run(values) {
		let raw;
		try {
			raw = JSON.parse(readFileSync(values.config!, "utf8"));
		} catch (error) {
			throw new CliError(`cannot read ${values.config}: ${(error as Error).message}`);
		}
		try {
			parseDeviceConfig(raw);
		} catch (error) {
			throw new CliError((error as Error).message);
		}
		const flash = values.flash!;
		let kind: string | undefined;
		if (values.image) {
			if (existsSync(flash) && values.force !== "true")
				throw new CliError(`${flash} exists; add --force to replace it`);
			let image;
			try {
				image = readFileSync(values.image);
			} catch (error) {
				throw new CliError(`cannot read image ${values.image}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
			}
			try {
				kind = readImage(image).kind;
			} catch (error) {
				throw new CliError(`${values.image} is not an xs-fota image (${(error as Error).message})`);
			}
			try {
				provisionFlash(flash, { partitionsCsv: PARTITIONS, image });
			} catch (error) {
				throw new CliError(`cannot make ${flash}: ${(error as Error).message}`);
			}
		}
		else if (!existsSync(flash))
			throw new CliError(`${flash} does not exist; give --image to make it`);
		try {
			writeDeviceConfig(flash, raw);
		} catch (error) {
			throw new CliError(`cannot write the config into ${flash}: ${(error as Error).message}`);
		}
		console.log(`provisioned ${flash}: device ${raw.deviceId} of ${raw.product}, server ${raw.server}${values.image ? `, ${values.image} (a ${kind} image) in ota_0` : ""}${kind === "lin" ? "; run it with xs-fota mcsim" : ""}`);
	},
};
