// Builds firmware with Moddable's mcconfig, from a clean output folder each time (tsc writes JavaScript even when
// it fails, so a reused folder can hide an error). The version and any other config values go in as mcconfig's
// name=value arguments, which set mc/config; the image header then carries the same version.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildLinImage } from "../sim/image.js";

export interface McconfigBuild {
	/** the Moddable manifest (the repo's manifest.json by default) */
	manifest: string;
	platform: "lin" | "esp32";
	version: string;
	/** more mc/config values (strings, as mcconfig passes them) */
	config?: Record<string, string>;
	/** the output folder, emptied first */
	out: string;
	/** the SDK ($MODDABLE) */
	moddable: string;
	/** a debug build (mcconfig -d): it connects to xsbug on port 5002 when one listens */
	debug?: boolean;
	/** the folder whose node_modules/.bin goes first on PATH, so that mcconfig runs the project's tsc */
	root: string;
	log?: (text: string) => void;
}

const CONFIG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function find(dir: string, name: string): string | undefined {
	for (const entry of readdirSync(dir)) {
		const path = join(dir, entry);
		if (statSync(path).isDirectory()) {
			const found = find(path, name);
			if (found)
				return found;
		}
		else if (entry === name)
			return path;
	}
	return undefined;
}

/** What mcconfig -m leaves for each platform: the simulator's shared object, the ESP-IDF app image. */
const OUTPUT = { lin: "mc.so", esp32: "xs_esp32.bin" } as const;

/** Runs mcconfig [-d] -m -t build and returns the built file's path (mc.so, or the ESP32 app image). Throws with
 * mcconfig's output when it fails. */
export function mcconfig(build: McconfigBuild): string {
	if (build.config && "version" in build.config)
		throw new Error("build: the version is --version, not a config value: the image header carries it too");
	if (build.platform === "esp32" && !process.env.IDF_PATH)
		throw new Error("mcconfig -p esp32 -m needs ESP-IDF: set IDF_PATH (README, \"ESP32\")");
	const config = { version: build.version, ...build.config };
	for (const [name, value] of Object.entries(config)) {
		if (!CONFIG_NAME.test(name) || /[\s"'\\]/.test(value))
			throw new Error(`mcconfig: config ${name}=${value}: names are identifiers, values have no spaces or quotes`);
	}
	const mcconfigPath = join(build.moddable, "build/bin/lin/release/mcconfig");
	if (!existsSync(mcconfigPath))
		throw new Error(`no mcconfig in ${build.moddable}/build/bin/lin/release: build the SDK's Linux tools first`);
	rmSync(build.out, { recursive: true, force: true });
	mkdirSync(build.out, { recursive: true });
	const result = spawnSync(mcconfigPath, [...(build.debug ? ["-d"] : []), "-m", "-p", build.platform, "-t", "build", "-o", build.out,
		...Object.entries(config).map(([name, value]) => `${name}=${value}`)], {
		cwd: resolve(build.manifest, ".."),
		encoding: "utf8",
		env: {
			...process.env,
			MODDABLE: build.moddable,
			PATH: `${join(build.root, "node_modules/.bin")}:${join(build.moddable, "build/bin/lin/release")}:${process.env.PATH}`,
		},
		maxBuffer: 64 * 1024 * 1024,
	});
	build.log?.(result.stdout + result.stderr);
	if (result.status !== 0)
		throw new Error(`mcconfig -p ${build.platform} failed (${result.status ?? result.signal}):\n${(result.stdout + result.stderr).split("\n").filter((line) => /error|Error/.test(line)).slice(0, 20).join("\n")}`);
	const built = find(join(build.out, "bin"), OUTPUT[build.platform]);
	if (!built)
		throw new Error(`mcconfig -p ${build.platform} ended without ${OUTPUT[build.platform]} under ${build.out}/bin`);
	return built;
}

/** The ESP32 app image that mcconfig built (what esp_ota writes into a slot; its kind is esp32). */
export function buildEsp32(build: Omit<McconfigBuild, "platform">): Buffer {
	return readFileSync(mcconfig({ ...build, platform: "esp32" }));
}

/** A lin image of the firmware: mcconfig's mc.so without its symbol tables (strip, from binutils; mcsim needs
 * only the dynamic symbols), wrapped with the same version it reports. */
export function buildLin(build: Omit<McconfigBuild, "platform">): Buffer {
	const so = mcconfig({ ...build, platform: "lin" });
	const stripped = join(build.out, "mc.stripped.so");
	const result = spawnSync("strip", ["--strip-unneeded", "-o", stripped, so], { encoding: "utf8" });
	if (result.status !== 0)
		throw new Error(`strip ${so} failed: ${result.error?.message ?? result.stderr.trim()}`);
	return buildLinImage(readFileSync(stripped), build.version);
}
