// What one update costs the flash, on the simulated board, for a 1 MiB image (counted by the board itself,
// hosts/sim/c/board/flash.c, and logged as "flash-stats" when the device reboots into the new image):
//   flash_read_bytes_over_image_size    bytes the firmware read from the target slot during the update (download,
//                                       verification, activation) over the image's size: 1.0 is one pass
//   erases_per_sector                   the most erases of any sector of the target slot: 1 is each sector once
//   flash_erased_bytes_over_image_size  bytes erased in the target slot over the image's size (sectors round it up)
// The bootloader's own read of the new image at the next boot is not the update's and is not counted here.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World } from "../tools/demo/world.js";
import type { BoardEvent } from "../tools/demo/board.js";
import { round } from "./lib/stats.js";

const MIB = 1024 * 1024;

export interface FlashFigures {
	imageBytes: number;
	readBytes: number;
	erasedBytes: number;
	maxSectorErases: number;
	/** sectors of the image (its size rounded up) */
	imageSectors: number;
	/** the update's boot's flash-stats event */
	stats: BoardEvent;
}

/** One uncut update of v1 to image on a fresh board: the flash's counters for the target slot. */
export async function measureUpdate(world: World, v1: Buffer, image: Buffer, name: string): Promise<FlashFigures> {
	const board = world.boot(world.device(name, v1));
	try {
		const activate = await board.waitFor((e) => e.type === "activate", 60000, "the activation");
		const stats = await board.waitFor((e) => e.type === "flash-stats" && e.boot === activate.boot, 20000, "the update boot's flash-stats");
		const slot = Number(String(activate.slot).replace(/^ota_/, ""));
		const sector = stats.sector as number;
		return {
			imageBytes: image.length,
			readBytes: stats.reads[slot],
			erasedBytes: stats.erases[slot] * sector,
			maxSectorErases: stats.maxSectorErases[slot],
			imageSectors: Math.ceil(image.length / sector),
			stats,
		};
	} finally {
		await board.stop();
	}
}

export async function run({ log }: { log: (line: string) => void }): Promise<Record<string, number>> {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-bench-flash-")));
	await world.start();
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0", padTo: MIB });
		await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const figures = await measureUpdate(world, v1, v2, "flash-0");
		log(`image ${figures.imageBytes} bytes: read ${figures.readBytes}, erased ${figures.erasedBytes}, most erases of a sector ${figures.maxSectorErases}`);
		return {
			flash_read_bytes_over_image_size: round(figures.readBytes / figures.imageBytes, 3),
			erases_per_sector: figures.maxSectorErases,
			flash_erased_bytes_over_image_size: round(figures.erasedBytes / figures.imageBytes, 3),
		};
	} finally {
		await world.stop();
	}
}
