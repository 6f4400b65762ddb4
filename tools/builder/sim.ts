// Builds the example firmware (or any entry in the module map) as a sim image, with its own mc/config: the
// manifests' merged config (build/sim/config.json, written by `npm run build`), the version, then any other
// values. The image header carries the same version, so the two cannot disagree.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildImage } from "../sim/image.js";

export interface SimBuild {
	/** build/js, where the compiled modules are; module names are paths under it */
	root: string;
	/** build/sim: the module map (modules.json) and the manifests' config (config.json) */
	sim: string;
	version: string;
	/** more mc/config values */
	config?: Record<string, unknown>;
	/** where this build's mc/config module goes (a folder of its own) */
	dir: string;
	entry?: string;
	/** more .js files to carry even if nothing imports them */
	include?: string[];
}

/** Replaces a file whole: a reader (the server, a build in another process) never sees it half written. */
export function writeWhole(path: string, data: string | Uint8Array): void {
	mkdirSync(dirname(path), { recursive: true });
	const temporary = `${path}.${process.pid}.tmp`;
	writeFileSync(temporary, data);
	renameSync(temporary, path);
}

export function buildSim(build: SimBuild): Buffer {
	if (build.config && "version" in build.config)
		throw new Error("build: the version is --version, not a config value: the image header carries it too");
	const base = JSON.parse(readFileSync(join(build.sim, "config.json"), "utf8")) as Record<string, unknown>;
	const config = { ...base, ...build.config, version: build.version };
	const module = join(build.dir, "mc-config.js");
	writeWhole(module, `// generated: mc/config of a ${build.version} build\nexport default Object.freeze(${JSON.stringify(config)});\n`);
	const map = { ...JSON.parse(readFileSync(join(build.sim, "modules.json"), "utf8")), "mc/config": module };
	return buildImage({ map, entry: build.entry ?? "main", version: build.version, root: build.root, include: build.include });
}
