// Gets a fresh clone ready: Debian packages, npm packages, the XS engine sources, the sim host,
// the compiled TypeScript and the sim module map. Each step is skipped when it is already done.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDebianPackages } from "./system.mjs";
import { ensureEngineSources } from "./engine.mjs";
import { CONFIG, moduleMap, nativeSources, writeConfigModule } from "./manifest.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const HOST = join(ROOT, "build/sim/xsfota-sim");
export const MODULE_MAP = join(ROOT, "build/sim/modules.json");
export const MODULE_CONFIG = join(ROOT, "build/sim/config.json");

function mtime(path) {
	return existsSync(path) ? statSync(path).mtimeMs : 0;
}

function ensureNodeModules(log) {
	const stamp = join(ROOT, "node_modules/.package-lock.json");
	if (mtime(stamp) >= mtime(join(ROOT, "package-lock.json")))
		return;
	// a worktree that borrows another checkout's packages through a symlink: npm ci would empty that checkout's folder
	if (lstatSync(join(ROOT, "node_modules"), { throwIfNoEntry: false })?.isSymbolicLink())
		throw new Error(`node_modules is a symlink (${realpathSync(join(ROOT, "node_modules"))}) and its packages are older than package-lock.json: run npm ci where it points, not through it`);
	log("installing npm packages (npm ci)");
	execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
}

export function buildHost(log = console.log) {
	const xs = ensureEngineSources(ROOT, log);
	const manifest = join(ROOT, "manifest.json");
	const board = join(ROOT, "hosts/sim/c/board") + sep;
	const standIns = join(ROOT, "hosts/sim/modules") + sep;
	const sim = nativeSources(manifest, "xsfota-sim");
	// xsfota-lin: the lin natives (the board's own C is in every host already) and the sim's stand-ins for
	// Moddable's modules, such as its Preference.
	const simStandIns = sim.filter((file) => file.startsWith(standIns));
	const lin = [...nativeSources(manifest, "lin").filter((file) => !file.startsWith(board)), ...simStandIns];
	// xsfota-esp32: the ESP32's natives over our fake of the ESP-IDF functions they call (hosts/esp32/fake).
	const esp32 = [...nativeSources(manifest, "esp32"), join(ROOT, "hosts/esp32/fake/fake-idf.c"), ...simStandIns];
	for (const [target, natives, extra] of [["sim", sim, ""], ["lin", lin, ""], ["esp32", esp32, `-I${join(ROOT, "hosts/esp32/fake/include")}`]]) {
		// The natives come from the manifests, as mcconfig takes a platform's C from its manifests.
		const result = spawnSync("make", ["-s", "-C", join(ROOT, "hosts/sim"), `-j${availableParallelism()}`, `TARGET=${target}`,
			`XS_PACKAGE=${xs}`, `OUT=${join(ROOT, "build/sim")}`, `NATIVE_SOURCES=${natives.join(" ")}`, `EXTRA_INCLUDES=${extra}`], { stdio: ["ignore", "inherit", "inherit"] });
		if (result.status !== 0)
			throw new Error(`building the ${target} host failed (see the compiler's messages above)`);
	}
}

export function compileTypeScript() {
	const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
	for (const project of ["tsconfig.json", "tsconfig.node.json"]) {
		const result = spawnSync(process.execPath, [tsc, "-p", join(ROOT, project)], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
		if (result.status !== 0)
			throw new Error(`TypeScript errors in ${project}`);
	}
}

export function writeModuleMap() {
	mkdirSync(dirname(MODULE_MAP), { recursive: true });
	const base = moduleMap(join(ROOT, "manifest.json"));
	const map = writeConfigModule(base, join(ROOT, "build/js/generated/mc-config.js"));
	writeFileSync(MODULE_MAP, JSON.stringify(map, null, 2) + "\n");
	// The manifests' merged "config", for builds that write their own mc/config on top of it (tools/builder/sim.ts).
	writeFileSync(MODULE_CONFIG, JSON.stringify(base[CONFIG], null, 2) + "\n");
	return MODULE_MAP;
}

/** Runs every set-up step; returns the milliseconds each took. */
export function prepare({ log = (line) => console.error(`[prepare] ${line}`) } = {}) {
	const times = {};
	const step = (name, fn) => {
		const start = performance.now();
		fn();
		times[name] = Math.round(performance.now() - start);
	};
	step("debian", () => ensureDebianPackages(undefined, log));
	step("npm", () => ensureNodeModules(log));
	step("host", () => buildHost(log));
	step("typescript", () => compileTypeScript());
	step("moduleMap", () => writeModuleMap());
	log(`ready in ${Object.entries(times).map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)}s`).join(", ")}`);
	return times;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	try {
		console.log(JSON.stringify(prepare()));
	} catch (error) {
		console.error(`xs-fota: ${error.message}`);
		process.exit(1);
	}
}
