// Reads Moddable manifests (manifest.json and its includes) into a module map for the sim host:
// bare specifier -> compiled JavaScript file under build/js, and into the list of C files (natives) that a
// platform's build compiles, as mcconfig does. Only the keys this project uses are read: include, modules, and
// platforms[platform]. $(MODDABLE) includes belong to the real SDK and are skipped.
import { readFileSync, existsSync, readdirSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve, relative, basename, join } from "node:path";

export const SIM_PLATFORM = "xsfota-sim";

function readManifest(path) {
	try {
		return JSON.parse(readFileSync(path, "utf8"));
	} catch (error) {
		throw new Error(`manifest ${path}: ${error.message}`);
	}
}

/** Expands one module source ("./dir/name" or "./dir/*") into TypeScript source files without extension. */
function expandSource(dir, source) {
	const full = resolve(dir, source);
	if (full.endsWith("*")) {
		const folder = dirname(full);
		return readdirSync(folder)
			.filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
			.map((name) => join(folder, name.slice(0, -3)));
	}
	return existsSync(full + ".ts") ? [full] : []; // C sources are built into the host: see nativeSources
}

/** The C files of a module source ("./dir/name" or "./dir/*"), as mcconfig finds them. */
function expandNative(dir, source) {
	const full = resolve(dir, source);
	if (full.endsWith("*")) {
		const folder = dirname(full);
		return readdirSync(folder).filter((name) => name.endsWith(".c")).map((name) => join(folder, name));
	}
	return existsSync(full + ".c") ? [full + ".c"] : [];
}

/** Visits a manifest and its includes (the base section and platforms[platform]), once each. */
function walk(path, platform, onSection) {
	const seen = new Set();
	const visit = (file) => {
		const full = resolve(file);
		if (seen.has(full))
			return;
		seen.add(full);
		const manifest = readManifest(full);
		const dir = dirname(full);
		const sections = [manifest, manifest.platforms?.[platform] ?? {}];
		for (const section of sections) {
			for (const include of section.include ?? []) {
				if (!include.includes("$("))
					visit(resolve(dir, include));
			}
		}
		for (const section of sections)
			onSection(section, dir);
	};
	visit(path);
}

/** The C files that the manifests at `path` give `platform` (the natives that its build must link). */
export function nativeSources(path, platform = SIM_PLATFORM) {
	const files = new Set();
	walk(path, platform, (section, dir) => {
		for (const value of Object.values(section.modules ?? {})) {
			for (const source of Array.isArray(value) ? value : [value]) {
				if (!source.includes("$("))
					expandNative(dir, source).forEach((file) => files.add(file));
			}
		}
	});
	return [...files].sort();
}

function addModules(map, dir, modules, root, outDir) {
	for (const [specifier, value] of Object.entries(modules ?? {})) {
		if (specifier === "~")
			continue;
		for (const source of Array.isArray(value) ? value : [value]) {
			for (const file of expandSource(dir, source)) {
				const name = specifier.endsWith("*") ? specifier.slice(0, -1) + basename(file) : specifier;
				map[name] = resolve(outDir, relative(root, file) + ".js");
			}
		}
	}
}

/** Returns { specifier: absolute .js path } for the manifest at `path`, built into `outDir`.
 * The manifests' "config" sections, merged, are returned as map[CONFIG] for writeConfigModule. */
export function moduleMap(path, { root = dirname(resolve(path)), outDir = resolve(root, "build/js") } = {}) {
	const map = {};
	const config = {};
	walk(path, SIM_PLATFORM, (section, dir) => {
		addModules(map, dir, section.modules, root, outDir);
		Object.assign(config, section.config ?? {});
	});
	Object.defineProperty(map, CONFIG, { value: config, enumerable: false });
	return map;
}

/** The merged "config" of the manifests behind a module map. */
export const CONFIG = Symbol("config");

/** Writes Moddable's "mc/config" module (the manifests' config, plus overrides) to file and maps it. */
export function writeConfigModule(map, file, overrides = {}) {
	const config = { ...(map[CONFIG] ?? {}), ...overrides };
	mkdirSync(dirname(file), { recursive: true });
	writeFileSync(file, `// generated from the manifests' "config": Moddable's mc/config\nexport default Object.freeze(${JSON.stringify(config)});\n`);
	return { ...map, "mc/config": file };
}
