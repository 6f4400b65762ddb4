// Where things are, seen from a compiled Node test in build/js/test/node/lib/.
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

export const ROOT = resolve(fileURLToPath(import.meta.url), "../../../../../..");
export const HOST = resolve(ROOT, "build/sim/xsfota-sim");
export const MODULE_MAP = resolve(ROOT, "build/sim/modules.json");
export const BUILD_JS = resolve(ROOT, "build/js");

export function fixture(path: string): string {
	return resolve(BUILD_JS, "test/fixtures", path);
}
