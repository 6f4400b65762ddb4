// The device config's flash (modules/fota/config-store.ts decides what the bytes mean): three areas of the
// `fotacfg` partition, kept outside the firmware image so that every firmware version reads the same ones. Area 0
// is the factory copy, written at provisioning; 1 and 2 are the working copies, written by the device when it takes
// a config document. The natives move bytes only: xs_devconfig_read(area) returns an ArrayBuffer or undefined
// (blank), xs_devconfig_write(area, bytes) replaces a working area, xs_devconfig_erase(area) blanks one.
import { decodeRecord } from "fota/config-store";
import type { ConfigArea, ConfigFlash, WorkingArea } from "fota/ports";

const AREAS: Record<ConfigArea, number> = { "factory": 0, "working-1": 1, "working-2": 2 };

export const configFlash: ConfigFlash = {
	read(area: ConfigArea): Uint8Array | undefined {
		const bytes: ArrayBuffer | undefined = native("xs_devconfig_read")(AREAS[area]);
		return bytes === undefined ? undefined : new Uint8Array(bytes);
	},
	write(area: WorkingArea, bytes: Uint8Array): void {
		native("xs_devconfig_write")(AREAS[area], bytes);
	},
	erase(area: WorkingArea): void {
		native("xs_devconfig_erase")(AREAS[area]);
	},
};

/** The factory copy's config object as provisioning wrote it, or undefined when there is none: for tools and tests
 * (the firmware loads its config with loadConfig, which chooses among the copies). Throws naming what is wrong. */
export function read(): Record<string, unknown> | undefined {
	const bytes = configFlash.read("factory");
	if (!bytes)
		return undefined;
	const record = decodeRecord(bytes, true);
	if (typeof record === "string")
		throw new Error(`devconfig: the factory copy: ${record}`);
	return record.config;
}

export default { configFlash, read };
