// Firmware for virtual devices: a real sim image (tools/sim/image.ts, the repo's image format and builder) of a
// given size, whose one module is never run, and the firmware a slot holds, read from its image header as a
// bootloader reads it. A virtual device runs no firmware code: what it runs is told by the slot it booted.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, IMAGE_HEADER, readImageHeader } from "../sim/image.js";
import type { Firmware } from "../../modules/fota/client.js";
import type { Flash, Slot } from "../../modules/fota/ports.js";

/** The smallest fleet image: the header, one module record and a line of source. */
export const MIN_FLEET_IMAGE = 512;

/** A sim image of exactly `size` bytes (at least MIN_FLEET_IMAGE) reporting `version`: a module of text padding. */
export function fleetImage(version: string, size = 16 * 1024): Buffer {
	if (!Number.isInteger(size) || size < MIN_FLEET_IMAGE)
		throw new RangeError(`a fleet image is at least ${MIN_FLEET_IMAGE} bytes`);
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-fleet-image-"));
	try {
		const name = "main"; // the module's name: its path under the build root, without .js
		const head = `// a virtual device's firmware ${version}: never run\n//`;
		const room = size - IMAGE_HEADER - 8 - name.length - head.length - 1; // header, record head, name, newline
		let padding = "";
		for (let i = 0; padding.length < room; i++)
			padding += ` ${version}.${i}`;
		writeFileSync(join(dir, `${name}.js`), `${head}${padding.slice(0, room)}\n`);
		return buildImage({ map: {}, entry: join(dir, `${name}.js`), version, root: dir });
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** The firmware in a slot, from its image header; undefined when the slot holds no readable header (never
 * written, or not an image of ours). */
export function firmwareIn(flash: Flash, slot: Slot): Firmware | undefined {
	try {
		const header = readImageHeader(Buffer.from(flash.read(slot, 0, IMAGE_HEADER)));
		return { version: header.version, kind: header.kind as Firmware["kind"] };
	} catch {
		return undefined;
	}
}
