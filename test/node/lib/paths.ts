// Where things are, seen from a compiled Node test in build/js/test/node/lib/.
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

export const ROOT = resolve(fileURLToPath(import.meta.url), "../../../../../..");
export const HOST = resolve(ROOT, "build/sim/xsfota-sim");
/** Our host with the desktop simulator's natives, and with the ESP32's natives over the fake ESP-IDF. */
export const LIN_HOST = resolve(ROOT, "build/sim/xsfota-lin");
export const ESP32_HOST = resolve(ROOT, "build/sim/xsfota-esp32");
export const MODULE_MAP = resolve(ROOT, "build/sim/modules.json");
export const BUILD_JS = resolve(ROOT, "build/js");

export function fixture(path: string): string {
	return resolve(BUILD_JS, "test/fixtures", path);
}
