// Builds firmware with Moddable's mcconfig, from a clean output folder each time (tsc writes JavaScript even when
// it fails, so a reused folder can hide an error). The version and any other config values go in as mcconfig's
// name=value arguments, which set mc/config; the image header then carries the same version.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildLinImage } from "../sim/image.js";
import { normalizeSdkconfig } from "./sdkconfig.js";

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

function checkBuild(build: McconfigBuild): Record<string, string> {
	if (build.config && "version" in build.config)
		throw new Error("build: the version is --version, not a config value: the image header carries it too");
	const config = { version: build.version, ...build.config };
	for (const [name, value] of Object.entries(config)) {
		if (!CONFIG_NAME.test(name) || /[\s"'\\]/.test(value))
			throw new Error(`mcconfig: config ${name}=${value}: names are identifiers, values have no spaces or quotes`);
	}
	return config;
}

function environment(build: McconfigBuild): NodeJS.ProcessEnv {
	return {
		...process.env,
		MODDABLE: build.moddable,
		PATH: `${join(build.root, "node_modules/.bin")}:${join(build.moddable, "build/bin/lin/release")}:${process.env.PATH}`,
	};
}

function failed(what: string, result: ReturnType<typeof spawnSync>): Error {
	const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
	return new Error(`${what} failed (${result.status ?? result.signal}):\n${output.split("\n").filter((line) => /error|Error/.test(line)).slice(0, 20).join("\n")}`);
}

/** Runs mcconfig [-d] [-m] -t build into a clean build.out. */
function runMcconfig(build: McconfigBuild, make: boolean): void {
	const config = checkBuild(build);
	const mcconfigPath = join(build.moddable, "build/bin/lin/release/mcconfig");
	if (!existsSync(mcconfigPath))
		throw new Error(`no mcconfig in ${build.moddable}/build/bin/lin/release: build the SDK's Linux tools first`);
	rmSync(build.out, { recursive: true, force: true });
	mkdirSync(build.out, { recursive: true });
	const result = spawnSync(mcconfigPath, [...(build.debug ? ["-d"] : []), ...(make ? ["-m"] : []), "-p", build.platform, "-t", "build", "-o", build.out,
		...Object.entries(config).map(([name, value]) => `${name}=${value}`)], {
		cwd: resolve(build.manifest, ".."), encoding: "utf8", env: environment(build), maxBuffer: 64 * 1024 * 1024,
	});
	build.log?.(result.stdout + result.stderr);
	if (result.status !== 0)
		throw failed(`mcconfig -p ${build.platform}`, result);
}

export interface Esp32Configuration {
	/** the generated sdkconfig (ESP-IDF's SDKCONFIG_DEFAULTS), each option set once */
	sdkconfig: string;
	/** the makefile mcconfig generated: \`make -f\` it to build (target build) or to build, flash and debug */
	makefile: string;
	/** what the normalization changed */
	changes: string[];
}

/** mcconfig -p esp32 without -m: generates the build (no ESP-IDF needed), then sets each sdkconfig option once
 * (tools/builder/sdkconfig.ts: Moddable's merge leaves a base "# NAME is not set" before our NAME=y, and NAME= for n). */
export function configureEsp32(build: Omit<McconfigBuild, "platform">): Esp32Configuration {
	runMcconfig({ ...build, platform: "esp32" }, false);
	const sdkconfig = find(join(build.out, "tmp"), "sdkconfig.mc");
	const makefile = find(join(build.out, "tmp"), "makefile");
	if (!sdkconfig || !makefile)
		throw new Error(`mcconfig -p esp32 left no ${sdkconfig ? "makefile" : "sdkconfig.mc"} under ${build.out}/tmp`);
	const { text, changes } = normalizeSdkconfig(readFileSync(sdkconfig, "utf8"));
	if (changes.length)
		writeFileSync(sdkconfig, text);
	build.log?.(changes.map((change) => `sdkconfig.mc: ${change}\n`).join(""));
	return { sdkconfig, makefile, changes };
}

/** Runs mcconfig [-d] -m -t build and returns the built file's path (mc.so, or the ESP32 app image). Throws with
 * mcconfig's output when it fails. For the ESP32 the configuration is generated first, its sdkconfig set straight,
 * and then built with the makefile, as mcconfig -m would (with ESP-IDF's export.sh sourced when idf.py is not on
 * PATH, as mcconfig does). */
export function mcconfig(build: McconfigBuild): string {
	if (build.platform === "esp32") {
		if (!process.env.IDF_PATH)
			throw new Error("mcconfig -p esp32 -m needs ESP-IDF: set IDF_PATH (README, \"ESP32\")");
		const { makefile } = configureEsp32(build);
		const env = environment(build);
		const hasIdf = spawnSync("which", ["idf.py"], { env }).status === 0;
		const make = `make -f '${makefile}' build`;
		const result = spawnSync("bash", ["-c", hasIdf ? make : `export IDF_EXPORT_QUIET=1 && source "$IDF_PATH/export.sh" && ${make}`], {
			cwd: resolve(build.manifest, ".."), encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024,
		});
		build.log?.(result.stdout + result.stderr);
		if (result.status !== 0)
			throw failed("make (ESP-IDF build)", result);
	}
	else
		runMcconfig(build, true);
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
