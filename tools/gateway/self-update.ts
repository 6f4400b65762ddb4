// The gateway updates itself: its own software is a release of its own product (config `self`), signed by the vendor
// and checked like any other (the manifest with the product's keys, the image's size and SHA-256, through the same
// cache). The image is a gzipped tar of the program (bin/xs-fota.js, package.json, build/js/): unpacked into
// <state>/self/releases/<version>, it becomes the pending version, and the gateway exits with RESTART_EXIT so that its
// launcher (./launcher.ts, under the host's process supervisor) starts the pending version. The cache and the queue
// stay in the state folder, so the new version starts with them. The new version promotes itself only once it has come
// up (it serves, and it has reached its upstream); a version that exits first, or does not come up within the trial,
// is rolled back by the launcher, never tried again, and the old version reports why.
//   <state>/self/state.json  {current: {version, dir}, pending?: {version, dir}, failed: [versions],
//                             rolledBack?: {version, why}}      (dir null: the program installed by hand)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkRelease } from "../release/check.js";
import type { GatewayConfig } from "./config.js";
import type { ImageCache } from "./cache.js";
import type { Upstream } from "./upstream.js";
import { manifestPath, reportPath, VERSION_HEADER } from "../../modules/fota/protocol.js";
import { MAX_MANIFEST_BYTES } from "../../modules/fota/manifest.js";

/** The image kind of a gateway's own software (`xs-fota sign --kind node`): a gateway takes no other for itself. */
export const GATEWAY_KIND = "node";

/** The exit code with which a gateway asks its launcher to start the pending version. */
export const RESTART_EXIT = 75;

export interface SelfVersion {
	version: string;
	/** the unpacked release's folder; null: the program installed by hand */
	dir: string | null;
}

export interface SelfState {
	current: SelfVersion;
	pending?: SelfVersion;
	failed: string[];
	rolledBack?: { version: string; why: string };
}

export function selfDir(config: GatewayConfig): string {
	return join(config.state, "self");
}

/** The self-update state, or the installed version's when there is none yet (or it does not parse: fail safe). */
export function readSelfState(config: GatewayConfig): SelfState {
	const installed: SelfState = { current: { version: config.self!.installed, dir: null }, failed: [] };
	try {
		const parsed = JSON.parse(readFileSync(join(selfDir(config), "state.json"), "utf8")) as SelfState;
		if (typeof parsed?.current?.version !== "string" || !Array.isArray(parsed.failed))
			return installed;
		return parsed;
	} catch {
		return installed;
	}
}

/** Writes the state whole, then renames it into place: a kill leaves the old state or the new, never half. */
export function writeSelfState(config: GatewayConfig, state: SelfState): void {
	mkdirSync(selfDir(config), { recursive: true });
	const file = join(selfDir(config), "state.json");
	writeFileSync(`${file}.new`, JSON.stringify(state, null, 2));
	renameSync(`${file}.new`, file);
}

export interface SelfUpdaterOptions {
	config: GatewayConfig;
	/** the version this process runs */
	version: string;
	upstream: Upstream;
	cache: ImageCache;
	/** where the runtime's node_modules are (a release carries only the gateway's JavaScript) */
	nodeModules: string;
	log: (line: string) => void;
	/** called once a new version is unpacked and pending: the gateway closes and exits with RESTART_EXIT */
	restart: () => void;
}

export class SelfUpdater {
	readonly #options: SelfUpdaterOptions;
	#promoted = false;
	#applying = false;

	constructor(options: SelfUpdaterOptions) {
		this.#options = options;
	}

	get #self() {
		return this.#options.config.self!;
	}

	/** A report of the gateway's own state to its upstream, in its own name (best effort: the next check repeats). */
	async #report(state: string, fields: Record<string, string> = {}): Promise<void> {
		const { config, upstream, version } = this.#options;
		try {
			await upstream.fetch(reportPath(config.id), { method: "POST", headers: [["content-type", "application/json"]],
				body: JSON.stringify({ product: this.#self.product, version, state, ...fields }), maxBytes: 1024, deadlineMs: 10000 });
		} catch (error) {
			this.#options.log(`self-update: report ${state}: ${(error as Error).message}`);
		}
	}

	/** After the gateway has come up and reached its upstream: a pending version that runs promotes itself; the
	 * version a failed one was rolled back to says so. */
	async cameUp(): Promise<void> {
		if (this.#promoted)
			return;
		this.#promoted = true;
		const { config, version } = this.#options;
		const state = readSelfState(config);
		if (state.pending?.version === version) {
			const previous = state.current;
			writeSelfState(config, { current: state.pending, failed: state.failed });
			this.#options.log(`self-update: ${version} came up; it is the current version (was ${previous.version})`);
			await this.#report("valid");
		} else if (state.rolledBack && state.current.version === version) {
			this.#options.log(`self-update: ${state.rolledBack.version} was rolled back: ${state.rolledBack.why}`);
			await this.#report("rolled-back", { target: state.rolledBack.version, error: state.rolledBack.why.slice(0, 500) });
			const { rolledBack: _, ...rest } = state;
			writeSelfState(config, rest);
		}
	}

	/** Asks the upstream for the gateway's own manifest; a new release (not this version, never failed) is fetched
	 * through the cache, verified, unpacked, made pending, and applied by a restart. */
	async check(): Promise<void> {
		if (this.#applying)
			return;
		const { config, upstream, cache, version } = this.#options;
		const product = this.#self.product;
		const answer = await upstream.fetch(manifestPath(product), { headers: [[VERSION_HEADER, version]], maxBytes: MAX_MANIFEST_BYTES, deadlineMs: config.timeoutSeconds * 2000 });
		await this.cameUp();
		if (answer.status !== 200)
			return;
		const checked = checkRelease(new Uint8Array(answer.body), undefined, this.#self.keys, { product, plainImageName: true });
		if (!checked.ok)
			throw new Error(`self-update: the upstream's manifest for ${product} does not verify (${checked.reason}: ${checked.detail})`);
		const manifest = checked.manifest;
		if (manifest.image.kind !== GATEWAY_KIND)
			throw new Error(`self-update: wrong-kind: ${product} ${manifest.version} is a "${manifest.image.kind}" image, not the gateway's "${GATEWAY_KIND}"`);
		const state = readSelfState(config);
		if (manifest.version === version || state.failed.includes(manifest.version) || state.pending?.version === manifest.version)
			return;
		this.#applying = true;
		try {
			this.#options.log(`self-update: ${version} -> ${manifest.version}: fetching`);
			await this.#report("downloading", { target: manifest.version });
			await cache.ensure(product, manifest, `/v1/products/${encodeURIComponent(product)}/${encodeURIComponent(manifest.image.url)}`, { deviceId: config.id, via: [], own: true });
			const dir = this.#unpack(cache.path(manifest.image.sha256), manifest.version);
			writeSelfState(config, { ...state, pending: { version: manifest.version, dir } });
			await this.#report("activating", { target: manifest.version });
			this.#options.log(`self-update: ${manifest.version} verified and unpacked in ${dir}; restarting into it`);
			this.#options.restart();
		} finally {
			this.#applying = false;
		}
	}

	/** Unpacks a verified release into releases/<version> (through a staging folder, renamed when whole). */
	#unpack(image: string, version: string): string {
		const releases = join(selfDir(this.#options.config), "releases");
		const safe = version.replace(/[^A-Za-z0-9._-]/g, "_");
		const dir = join(releases, safe);
		const staging = `${dir}.staging`;
		rmSync(staging, { recursive: true, force: true });
		rmSync(dir, { recursive: true, force: true });
		mkdirSync(staging, { recursive: true });
		try {
			execFileSync("tar", ["-xzf", image, "-C", staging, "--no-same-owner", "--no-same-permissions"], { stdio: ["ignore", "ignore", "pipe"] });
		} catch (error) {
			rmSync(staging, { recursive: true, force: true });
			throw new Error(`self-update: unpack ${version}: tar failed: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim()}`);
		}
		if (!existsSync(join(staging, "bin/xs-fota.js"))) {
			rmSync(staging, { recursive: true, force: true });
			throw new Error(`self-update: the release ${version} holds no bin/xs-fota.js`);
		}
		symlinkSync(this.#options.nodeModules, join(staging, "node_modules"), "dir");
		renameSync(staging, dir);
		return dir;
	}
}
