// Staged rollouts, stored and served: which manifest each device gets, how each device's update went, and the state
// changes of each rollout with their causes. The policy (a device's stage, the verdict of a rollout's numbers) is
// ./rollout.ts, pure; this file applies it to the fleet store, on the server's clock.
//   a release published staged is served only through a rollout; every other device keeps the product's newest
//     release published for everyone (its baseline), or what an older rollout gave it
//   a device of the target is offered the release when its stage is open, the rollout running (or complete) and a
//     maintenance window open; outside a window it is told (503, Retry-After) to come back when the next one opens
//   an offered device's reports settle its offer: "valid" on the release succeeds; "rolled-back" or "rejected"
//     naming it fails, with the device's reason; no report within the timeout fails it as "timed-out"
//   tick(): opens the next stage, completes or halts a running rollout, by judge(); every change is an event
// Several servers may share one PostgreSQL store: a state change applies only if the rollout is still as the server
// read it, so one of them makes it.
import { checkStages, exponentialStages, judge, placement, stageAt, type StageNumbers } from "./rollout.js";
import { checkWindows, windowState } from "./windows.js";
import { StoreConflict, StoreNotFound, type ConfigDocRow, type DeviceReport, type FleetStore, type OfferRow, type ReleaseRow, type RolloutRow } from "./store/store.js";
import { ROLLOUT_STATES, type MaintenanceWindow, type RolloutAction, type RolloutState, type RolloutThresholds, type RolloutView, type StageView } from "./admin-api.js";

export const DEFAULT_STAGES: readonly number[] = [0.01, 0.1, 0.5, 1];
export const DEFAULT_THRESHOLDS: Readonly<RolloutThresholds> = { success: 0.95, error: 0.05, minDevices: 10, soakSeconds: 0, timeoutSeconds: 3600 };
/** A device told to wait for a window comes back at the latest after this, whatever the window: a changed or aborted
 * rollout reaches it in time. */
export const MAX_WAIT_SECONDS = 3600;
const MAX_FILTER_ENTRIES = 10_000;
const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const FINAL: readonly RolloutState[] = ["aborted", "complete"];
/** Rollouts of a product that a manifest request looks at, newest first. */
const CONSIDERED = 50;

/** A refusal of an administrator's request: the HTTP status, a code, and what is wrong. */
export class RolloutError extends Error {
	constructor(readonly status: number, readonly code: string, message: string) {
		super(message);
	}
}

/** The stored, normalized spec of a rollout. */
export interface Plan {
	filter: { versions?: string[]; devices?: string[] };
	stages: number[];
	thresholds: RolloutThresholds;
	windows: MaintenanceWindow[];
	/** the placement's seed: the product and the release's sequence, so a retried rollout of one release keeps every
	 * device in its stage */
	seed: string;
}

export type ManifestDecision =
	| { kind: "release"; release: ReleaseRow }
	| { kind: "wait"; seconds: number; why: string }
	| { kind: "none" };

const SPEC_FIELDS = ["product", "version", "config", "filter", "stages", "exponential", "thresholds", "startAt", "windows"];

function share(value: unknown, name: string, low: number, lowIncluded: boolean, high: number, highIncluded: boolean): number {
	if (typeof value !== "number" || !Number.isFinite(value) || (lowIncluded ? value < low : value <= low) || (highIncluded ? value > high : value >= high))
		throw new RolloutError(400, "bad-rollout", `${name} must be a number in ${lowIncluded ? "[" : "("}${low}, ${high}${highIncluded ? "]" : ")"}`);
	return value;
}

function whole(value: unknown, name: string, max: number): number {
	if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > max)
		throw new RolloutError(400, "bad-rollout", `${name} must be a whole number from 0 to ${max}`);
	return value as number;
}

function stringList(value: unknown, name: string, check: (text: string) => boolean): string[] {
	if (!Array.isArray(value) || value.length === 0 || value.length > MAX_FILTER_ENTRIES || !value.every((entry) => typeof entry === "string" && check(entry)))
		throw new RolloutError(400, "bad-rollout", `${name} must be a list of 1 to ${MAX_FILTER_ENTRIES} names`);
	return [...new Set(value as string[])];
}

/** Thresholds given over the defaults (or over `base`), each checked. */
export function thresholdsOf(given: unknown, base: RolloutThresholds = DEFAULT_THRESHOLDS): RolloutThresholds {
	if (given === undefined)
		return { ...base };
	if (typeof given !== "object" || given === null || Array.isArray(given))
		throw new RolloutError(400, "bad-rollout", "thresholds must be an object");
	const t = given as Record<string, unknown>;
	for (const name of Object.keys(t))
		if (!(name in DEFAULT_THRESHOLDS))
			throw new RolloutError(400, "bad-rollout", `thresholds.${name} is not a threshold (${Object.keys(DEFAULT_THRESHOLDS).join(", ")})`);
	return {
		success: t.success === undefined ? base.success : share(t.success, "thresholds.success", 0, false, 1, true),
		error: t.error === undefined ? base.error : share(t.error, "thresholds.error", 0, true, 1, false),
		minDevices: t.minDevices === undefined ? base.minDevices : whole(t.minDevices, "thresholds.minDevices", 1_000_000),
		soakSeconds: t.soakSeconds === undefined ? base.soakSeconds : whole(t.soakSeconds, "thresholds.soakSeconds", 30 * 86400),
		timeoutSeconds: t.timeoutSeconds === undefined ? base.timeoutSeconds : Math.max(1, whole(t.timeoutSeconds, "thresholds.timeoutSeconds", 30 * 86400)),
	};
}

/** An administrator's spec, checked field by field, as the plan to store; throws RolloutError 400 naming the field. */
export function planOf(spec: Record<string, unknown>, release: Pick<ReleaseRow, "product" | "sequence">, kind: "release" | "config" = "release"): Plan {
	for (const name of Object.keys(spec))
		if (!SPEC_FIELDS.includes(name))
			throw new RolloutError(400, "bad-rollout", `${name} is not a rollout field`);
	const filter: Plan["filter"] = {};
	if (spec.filter !== undefined) {
		if (typeof spec.filter !== "object" || spec.filter === null || Array.isArray(spec.filter))
			throw new RolloutError(400, "bad-rollout", "filter must be {versions?, devices?}");
		const { versions, devices, ...rest } = spec.filter as Record<string, unknown>;
		if (Object.keys(rest).length > 0)
			throw new RolloutError(400, "bad-rollout", `filter.${Object.keys(rest)[0]} is not a filter`);
		if (versions !== undefined)
			filter.versions = stringList(versions, "filter.versions", (text) => text.length > 0 && text.length <= 128);
		if (devices !== undefined)
			filter.devices = stringList(devices, "filter.devices", (text) => DEVICE_ID.test(text));
	}
	let stages: number[];
	if (spec.stages !== undefined && spec.exponential !== undefined)
		throw new RolloutError(400, "bad-rollout", "give stages or exponential, not both");
	try {
		if (spec.exponential !== undefined) {
			const e = spec.exponential as Record<string, unknown>;
			if (typeof e !== "object" || e === null || typeof e.first !== "number" || typeof e.factor !== "number" || Object.keys(e).length !== 2)
				throw new RangeError("exponential must be {first, factor}");
			stages = exponentialStages(e.first, e.factor);
		}
		else {
			stages = spec.stages === undefined ? [...DEFAULT_STAGES] : spec.stages as number[];
			if (!Array.isArray(stages) || !stages.every((entry) => typeof entry === "number"))
				throw new RangeError("stages must be a list of numbers");
		}
		checkStages(stages);
	} catch (error) {
		if (error instanceof RolloutError)
			throw error;
		throw new RolloutError(400, "bad-rollout", (error as Error).message);
	}
	let windows: MaintenanceWindow[] = [];
	if (spec.windows !== undefined) {
		try {
			windows = checkWindows(spec.windows);
		} catch (error) {
			throw new RolloutError(400, "bad-rollout", (error as Error).message);
		}
	}
	return { filter, stages, thresholds: thresholdsOf(spec.thresholds), windows,
		seed: kind === "config" ? `${release.product}\nconfig ${release.sequence}` : `${release.product}\n${release.sequence}` };
}

/** Whether a device is in a rollout's target: its product (the caller's), then the ids; the versions it ran before
 * it was offered the release (once offered it stays in, whatever it runs now). */
function inTarget(plan: Plan, deviceId: string, version: string | undefined, offered: boolean): boolean {
	if (plan.filter.devices && !plan.filter.devices.includes(deviceId))
		return false;
	return offered || !plan.filter.versions || (version !== undefined && plan.filter.versions.includes(version));
}

/** A device's error, as a failure's reason: its code, before any detail ("selftest-failed: sensor" → "selftest-failed"). */
function reasonOf(error: string | undefined, fallback: string): string {
	const code = (error ?? "").split(":")[0]!.trim().slice(0, 64);
	return code || fallback;
}

interface Numbers {
	stages: (StageNumbers & { waiting: number })[];
	failures: Map<string, number>;
	/** offers past their timeout, to settle as failed */
	timedOut: OfferRow[];
}

const percent = (value: number) => `${(Math.round(value * 1000) / 10).toFixed(1)}%`;

export class RolloutEngine {
	readonly #store: FleetStore;
	readonly #now: () => number;
	readonly #log: (line: string) => void;
	/** each product's rollouts that manifest requests look at, newest first, read at most every second (the product's
	 * baseline is read each time: a release published for everyone reaches the next check) */
	readonly #cache = new Map<string, { rows: RolloutRow[]; at: number }>();
	/** releases by product and sequence: a release never changes */
	readonly #releases = new Map<string, ReleaseRow>();
	/** each device's place in [0, 1) by placement seed: a SHA-256 each, for every device at every tick otherwise */
	readonly #places = new Map<string, Map<string, number>>();
	#timer: ReturnType<typeof setInterval> | undefined;
	#ticking: Promise<void> | undefined;

	constructor(store: FleetStore, options: { now?: () => number; log?: (line: string) => void } = {}) {
		this.#store = store;
		this.#now = options.now ?? Date.now;
		this.#log = options.log ?? (() => {});
	}

	/** Judges every rollout every intervalMs, until stop(). */
	start(intervalMs: number): void {
		this.stop();
		this.#timer = setInterval(() => {
			this.tick().catch((error) => this.#log(`rollouts: ${(error as Error).stack ?? error}`));
		}, intervalMs);
		this.#timer.unref?.();
	}

	async stop(): Promise<void> {
		if (this.#timer)
			clearInterval(this.#timer);
		this.#timer = undefined;
		await this.#ticking;
	}

	/** The device's stage in the plan (./rollout.ts stageOf, with the places kept). */
	#stage(plan: Plan, deviceId: string): number {
		let places = this.#places.get(plan.seed);
		if (!places)
			this.#places.set(plan.seed, places = new Map());
		let place = places.get(deviceId);
		if (place === undefined)
			places.set(deviceId, place = placement(plan.seed, deviceId));
		return stageAt(place, plan.stages);
	}

	async #rollouts(product: string): Promise<RolloutRow[]> {
		const now = Date.now();
		const cached = this.#cache.get(product);
		if (cached && now - cached.at < 1000)
			return cached.rows;
		const rows = (await this.#store.rollouts(product)).slice(0, CONSIDERED);
		this.#cache.set(product, { rows, at: now });
		return rows;
	}

	async create(spec: unknown): Promise<RolloutView> {
		if (typeof spec !== "object" || spec === null || Array.isArray(spec))
			throw new RolloutError(400, "bad-rollout", "the rollout must be a JSON object");
		const s = spec as Record<string, unknown>;
		const release = s.config !== undefined ? await this.#stagedConfig(s) : await this.#stagedRelease(s);
		const plan = planOf(s, release, release.kind);
		if (release.devices) // a document for some devices: the target is those of them the filter names
			plan.filter.devices = plan.filter.devices ? plan.filter.devices.filter((id) => release.devices!.includes(id)) : [...release.devices];
		const now = this.#now();
		let startAt: number | null = null;
		if (s.startAt !== undefined) {
			startAt = typeof s.startAt === "string" && s.startAt.length <= 40 ? Date.parse(s.startAt) : NaN;
			if (!Number.isFinite(startAt))
				throw new RolloutError(400, "bad-rollout", "startAt must be a time in ISO 8601, e.g. 2026-12-24T02:00:00Z");
		}
		const scheduled = startAt !== null && startAt > now;
		let row: RolloutRow;
		try {
			row = await this.#store.createRollout({
				product: release.product, sequence: release.sequence, version: release.version, spec: plan, startAt, kind: release.kind,
				state: scheduled ? "scheduled" : "running",
				cause: scheduled ? `scheduled: starts at ${new Date(startAt!).toISOString()}` : this.#startCause(plan),
				opened: scheduled ? -1 : 0, openedAt: scheduled ? [] : [now],
			}, new Date(now));
		} catch (error) {
			if (error instanceof StoreConflict)
				throw new RolloutError(409, "rollout-running", error.message);
			if (error instanceof StoreNotFound)
				throw new RolloutError(404, "unknown-product", error.message);
			throw error;
		}
		this.#cache.delete(release.product);
		this.#log(`rollout ${row.id}: ${row.product} ${row.version}: ${row.cause}`);
		return (await this.view(row.id, true))!;
	}

	/** The staged release a spec names by version. */
	async #stagedRelease(s: Record<string, unknown>): Promise<{ product: string; sequence: number; version: string; kind: "release"; devices?: undefined }> {
		if (typeof s.product !== "string" || typeof s.version !== "string" || s.version.length === 0 || s.version.length > 128)
			throw new RolloutError(400, "bad-rollout", "product and version name the release to roll out (or config, a config document's sequence)");
		const releases = await this.#store.releases(s.product);
		const release = releases.find((candidate) => candidate.version === s.version);
		if (!release)
			throw new RolloutError(404, "unknown-release", `${s.product} has no release ${s.version}`);
		if (!release.staged)
			throw new RolloutError(409, "not-staged", `${s.product} ${s.version} is already served to every device: publish a release with --staged to roll it out`);
		return { product: release.product, sequence: release.sequence, version: release.version, kind: "release" };
	}

	/** The staged config document a spec names by its sequence (`config`): its rollout is shown as "config N". */
	async #stagedConfig(s: Record<string, unknown>): Promise<{ product: string; sequence: number; version: string; kind: "config"; devices?: string[] }> {
		if (typeof s.product !== "string" || s.version !== undefined || !Number.isSafeInteger(s.config) || (s.config as number) < 1)
			throw new RolloutError(400, "bad-rollout", "product and config (a config document's sequence, a whole number from 1) name the document to roll out; give version or config, not both");
		const sequence = s.config as number;
		const doc = (await this.#store.configDocs(s.product, sequence - 1)).find((candidate) => candidate.sequence === sequence);
		if (!doc)
			throw new RolloutError(404, "unknown-config", `${s.product} has no config document of sequence ${sequence}`);
		if (!doc.staged)
			throw new RolloutError(409, "not-staged", `config document ${sequence} of ${s.product} is already given to every device it is for: upload one with staged to roll it out`);
		return { product: doc.product, sequence, version: `config ${sequence}`, kind: "config", ...(doc.devices ? { devices: doc.devices } : {}) };
	}

	#startCause(plan: Plan): string {
		return `started: stage 1 of ${plan.stages.length} opened (${percent(plan.stages[0]!)} of the target)`;
	}

	/** pause (running or scheduled), resume (paused or halted; optionally with new thresholds), abort (any but final). */
	async act(id: number, action: RolloutAction, by: string, body: Record<string, unknown> = {}): Promise<RolloutView> {
		const row = await this.#store.rollout(id);
		if (!row)
			throw new RolloutError(404, "not-found", `no rollout ${id}`);
		const state = row.state as RolloutState;
		const allowed: Record<RolloutAction, readonly RolloutState[]> = {
			pause: ["running", "scheduled"], resume: ["paused", "halted"], abort: ["scheduled", "running", "paused", "halted"],
		};
		if (!allowed[action].includes(state))
			throw new RolloutError(409, "bad-state", `rollout ${id} is ${state}: it cannot be ${action === "abort" ? "aborted" : `${action}d`}`);
		const fields = Object.keys(body);
		if (fields.some((name) => action !== "resume" || name !== "thresholds"))
			throw new RolloutError(400, "bad-action", action === "resume" ? "resume takes only {thresholds}" : `${action} takes no fields`);
		const now = this.#now();
		let plan = row.spec as Plan;
		let next: RolloutState, cause: string;
		let opened = row.opened, openedAt = row.openedAt;
		if (action === "pause") {
			next = "paused";
			cause = `paused by ${by}`;
		}
		else if (action === "abort") {
			next = "aborted";
			cause = row.kind === "config" ? `aborted by ${by}: the config document is no longer offered; devices that run it keep it`
				: `aborted by ${by}: the release is no longer offered; devices that run it keep it`;
		}
		else {
			if (body.thresholds !== undefined)
				plan = { ...plan, thresholds: thresholdsOf(body.thresholds, plan.thresholds) };
			const notYet = row.startAt !== null && row.startAt > now && opened < 0;
			next = notYet ? "scheduled" : "running";
			if (!notYet && opened < 0) {
				opened = 0;
				openedAt = [now];
			}
			cause = `resumed by ${by}${body.thresholds !== undefined ? ` with error threshold ${percent(plan.thresholds.error)}, success ${percent(plan.thresholds.success)}` : ""}`;
		}
		const changed = await this.#store.changeRollout(id, { state, opened: row.opened },
			{ state: next, opened, openedAt, cause, ...(plan !== row.spec ? { spec: plan } : {}) }, new Date(now));
		if (!changed)
			throw new RolloutError(409, "changed", `rollout ${id} changed meanwhile: read it again`);
		this.#cache.delete(row.product);
		this.#log(`rollout ${id}: ${cause}`);
		return (await this.view(id, true))!;
	}

	/** Judges every rollout that is not over: starts the scheduled ones that are due, fails offers past their timeout,
	 * opens the next stage, completes, or halts. */
	tick(): Promise<void> {
		if (!this.#ticking)
			this.#ticking = this.#tick().finally(() => (this.#ticking = undefined));
		return this.#ticking;
	}

	async #tick(): Promise<void> {
		const now = this.#now();
		for (const row of await this.#store.rollouts()) {
			const state = row.state as RolloutState;
			if (FINAL.includes(state))
				continue;
			const plan = row.spec as Plan;
			if (state === "scheduled") {
				if (row.startAt !== null && row.startAt <= now)
					await this.#change(row, "running", 0, [now], this.#startCause(plan), now);
				continue;
			}
			const numbers = await this.#numbers(row, now);
			for (const offer of numbers.timedOut)
				await this.#store.settleOffer(row.id, offer.deviceId, "failed", "timed-out", new Date(now));
			if (state !== "running")
				continue;
			const t = plan.thresholds;
			const verdict = judge(numbers.stages, row.opened, { success: t.success, error: t.error, minDevices: t.minDevices, soakMs: t.soakSeconds * 1000 },
				row.openedAt[row.opened] ?? row.createdAt, now);
			if (verdict.action === "wait")
				continue;
			if (verdict.action === "halt") {
				const reasons = [...numbers.failures].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([reason, count]) => `${count} ${reason}`).join(", ");
				await this.#change(row, "halted", row.opened, row.openedAt, `${verdict.cause} in stage ${row.opened + 1}${reasons ? `: ${reasons}` : ""}`, now);
			}
			else if (verdict.action === "open")
				await this.#change(row, "running", verdict.stage, [...row.openedAt, now], verdict.cause, now);
			else
				await this.#change(row, "complete", row.opened, row.openedAt, verdict.cause, now);
		}
	}

	async #change(row: RolloutRow, state: RolloutState, opened: number, openedAt: number[], cause: string, now: number): Promise<void> {
		if (await this.#store.changeRollout(row.id, { state: row.state, opened: row.opened }, { state, opened, openedAt, cause }, new Date(now))) {
			this.#cache.delete(row.product);
			this.#log(`rollout ${row.id}: ${cause}`);
		}
	}

	/** The numbers of each stage, the failures' reasons, and the offers past their timeout (counted failed). */
	async #numbers(row: RolloutRow, now: number): Promise<Numbers> {
		const plan = row.spec as Plan;
		const offers = new Map((await this.#store.offers(row.id)).map((offer) => [offer.deviceId, offer]));
		const devices = await this.#store.productDevices(row.product);
		const stages = plan.stages.map(() => ({ devices: 0, succeeded: 0, failed: 0, inProgress: 0, waiting: 0 }));
		const failures = new Map<string, number>();
		const timedOut: OfferRow[] = [];
		const seen = new Set<string>();
		// a device not offered the rollout's release (or config document) that already runs it counts as succeeded
		const configs = row.kind === "config"
			? new Map((await this.#store.devices({ product: row.product })).map((device) => [device.deviceId, device.configSequence])) : undefined;
		const runs = (deviceId: string, version: string | undefined) => configs ? configs.get(deviceId) === row.sequence : version === row.version;
		const count = (deviceId: string, version: string | undefined) => {
			const offer = offers.get(deviceId);
			if (!inTarget(plan, deviceId, version, offer !== undefined))
				return;
			const stage = stages[offer ? offer.stage : this.#stage(plan, deviceId)]!;
			stage.devices++;
			let status = offer?.status;
			let reason = offer?.reason ?? null;
			if (status === "offered" && now - offer!.updatedAt > plan.thresholds.timeoutSeconds * 1000) {
				status = "failed";
				reason = "timed-out";
				timedOut.push(offer!);
			}
			if (status === "succeeded" || (status === undefined && runs(deviceId, version)))
				stage.succeeded++;
			else if (status === "failed") {
				stage.failed++;
				failures.set(reason ?? "failed", (failures.get(reason ?? "failed") ?? 0) + 1);
			}
			else if (status === "offered")
				stage.inProgress++;
			else
				stage.waiting++;
		};
		for (const device of devices) {
			seen.add(device.deviceId);
			count(device.deviceId, device.version);
		}
		for (const offer of offers.values()) // offered before its first report
			if (!seen.has(offer.deviceId))
				count(offer.deviceId, undefined);
		return { stages, failures, timedOut };
	}

	/** The manifest for a device's request: the release of the newest rollout that has one for it, else the product's
	 * baseline; or "wait" when its rollout is ready for it outside a maintenance window. */
	async manifestFor(deviceId: string, product: string): Promise<ManifestDecision> {
		const rollouts = await this.#rollouts(product);
		if (rollouts.length > 0) {
			const now = this.#now();
			const offers = await this.#store.offersTo(deviceId);
			const version = rollouts.some((row) => (row.spec as Plan).filter.versions) ? (await this.#store.device(deviceId))?.version : undefined;
			for (const row of rollouts) {
				if (row.kind === "config")
					continue; // a config rollout gives a document, not a manifest (offerConfig)
				const plan = row.spec as Plan;
				const offer = offers.find((candidate) => candidate.rollout === row.id);
				if (!inTarget(plan, deviceId, version, offer !== undefined))
					continue;
				const state = row.state as RolloutState;
				if (offer && (state === "running" || state === "complete" || (state === "paused" && offer.status !== "failed") || offer.status === "succeeded"))
					return this.#release(row);
				if (!offer && (state === "running" || state === "complete")) {
					const stage = this.#stage(plan, deviceId);
					if (stage > row.opened)
						continue; // not yet: what it had
					const window = windowState(plan.windows, now);
					if (!window.open) {
						const seconds = window.opensAt === null ? MAX_WAIT_SECONDS : Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil((window.opensAt - now) / 1000)));
						return { kind: "wait", seconds, why: `outside the maintenance windows of rollout ${row.id}${window.opensAt ? `; the next opens at ${new Date(window.opensAt).toISOString()}` : ""}` };
					}
					await this.#store.offer(row.id, deviceId, stage, new Date(now));
					return this.#release(row);
				}
			}
		}
		const baseline = await this.#store.latestRelease(product, { unstaged: true });
		return baseline ? { kind: "release", release: baseline } : { kind: "none" };
	}

	async #release(row: RolloutRow): Promise<ManifestDecision> {
		const key = `${row.product}\n${row.sequence}`;
		let release = this.#releases.get(key);
		if (!release) {
			release = (await this.#store.releases(row.product)).find((candidate) => candidate.sequence === row.sequence);
			if (release)
				this.#releases.set(key, release);
		}
		return release ? { kind: "release", release } : { kind: "none" };
	}

	/** Whether the device may download the release's image: every device for a release published for everyone; only
	 * the devices offered it for a staged one. */
	async mayDownload(deviceId: string, release: ReleaseRow): Promise<boolean> {
		if (!release.staged)
			return true;
		const rollouts = await this.#rollouts(release.product);
		const offers = await this.#store.offersTo(deviceId);
		return offers.some((offer) => rollouts.some((row) => row.id === offer.rollout && row.kind !== "config" && row.sequence === release.sequence));
	}

	/** Settles the device's offers from its report: its outcome on a rollout's release, or a sign of progress. */
	async onReport(report: DeviceReport, at: Date): Promise<void> {
		const offers = await this.#store.offersTo(report.deviceId);
		if (offers.length === 0)
			return;
		const rollouts = await this.#rollouts(report.product);
		if (report.configTarget !== undefined && report.state.startsWith("config-"))
			return this.#onConfigReport(report, report.configTarget, offers, rollouts, at);
		for (const offer of offers) {
			const row = rollouts.find((candidate) => candidate.id === offer.rollout);
			if (!row || row.kind === "config")
				continue;
			const about = report.version === row.version || report.target === row.version;
			if (!about)
				continue;
			if (report.state === "valid" && report.version === row.version)
				await this.#store.settleOffer(row.id, report.deviceId, "succeeded", null, at);
			else if ((report.state === "rolled-back" || report.state === "rejected") && report.target === row.version)
				await this.#store.settleOffer(row.id, report.deviceId, "failed", reasonOf(report.error, report.state), at);
			else if (offer.status === "offered")
				await this.#store.settleOffer(row.id, report.deviceId, "offered", null, at); // progress: its timeout runs anew
		}
	}

	/** Settles the device's offers of config rollouts from a config-* report about their document: "config-valid"
	 * succeeds; "config-rolled-back" or "config-rejected" fails, with the device's reason; "config-trying" and
	 * "config-interrupted" are progress (the timeout runs anew). */
	async #onConfigReport(report: DeviceReport, target: number, offers: OfferRow[], rollouts: RolloutRow[], at: Date): Promise<void> {
		for (const offer of offers) {
			const row = rollouts.find((candidate) => candidate.id === offer.rollout);
			if (!row || row.kind !== "config" || row.sequence !== target)
				continue;
			if (report.state === "config-valid")
				await this.#store.settleOffer(row.id, report.deviceId, "succeeded", null, at);
			else if (report.state === "config-rolled-back" || report.state === "config-rejected")
				await this.#store.settleOffer(row.id, report.deviceId, "failed", reasonOf(report.error, report.state), at);
			else if (offer.status === "offered")
				await this.#store.settleOffer(row.id, report.deviceId, "offered", null, at);
		}
	}

	/** Whether a config rollout already gives the staged document to the device: it was offered it, and the rollout
	 * still offers it (running or complete; paused, unless it failed there; or it succeeded there). */
	async configOffered(deviceId: string, doc: ConfigDocRow): Promise<boolean> {
		const offers = await this.#store.offersTo(deviceId);
		if (offers.length === 0)
			return false;
		for (const row of await this.#rollouts(doc.product)) {
			if (row.kind !== "config" || row.sequence !== doc.sequence)
				continue;
			const offer = offers.find((candidate) => candidate.rollout === row.id);
			const state = row.state as RolloutState;
			if (offer && (state === "running" || state === "complete" || (state === "paused" && offer.status !== "failed") || offer.status === "succeeded"))
				return true;
		}
		return false;
	}

	/** Whether the device is to be given the staged config document: offered already (configOffered), or now, when a
	 * config rollout of it runs, the device is in its target and its stage is open, inside a maintenance window (outside
	 * one it is not offered yet, and asks again at its next check). */
	async offerConfig(deviceId: string, doc: ConfigDocRow): Promise<boolean> {
		if (await this.configOffered(deviceId, doc))
			return true;
		const rollouts = (await this.#rollouts(doc.product)).filter((row) => row.kind === "config" && row.sequence === doc.sequence &&
			(row.state === "running" || row.state === "complete"));
		if (rollouts.length === 0)
			return false;
		const offers = await this.#store.offersTo(deviceId);
		const now = this.#now();
		let version: string | undefined;
		for (const row of rollouts) {
			const plan = row.spec as Plan;
			if (offers.some((offer) => offer.rollout === row.id))
				continue; // offered, and failed or no longer offered (configOffered said no)
			if (plan.filter.versions && version === undefined)
				version = (await this.#store.device(deviceId))?.version;
			if (!inTarget(plan, deviceId, version, false))
				continue;
			const stage = this.#stage(plan, deviceId);
			if (stage > row.opened || !windowState(plan.windows, now).open)
				continue;
			await this.#store.offer(row.id, deviceId, stage, new Date(now));
			return true;
		}
		return false;
	}

	async view(id: number, events = false): Promise<RolloutView | undefined> {
		const row = await this.#store.rollout(id);
		return row && this.#view(row, events);
	}

	async views(product?: string): Promise<RolloutView[]> {
		return Promise.all((await this.#store.rollouts(product)).slice(0, 100).map((row) => this.#view(row, false)));
	}

	async #view(row: RolloutRow, events: boolean): Promise<RolloutView> {
		const plan = row.spec as Plan;
		const now = this.#now();
		const numbers = await this.#numbers(row, now);
		const stages: StageView[] = numbers.stages.map((stage, i) => ({
			share: plan.stages[i]!, devices: stage.devices, succeeded: stage.succeeded, inProgress: stage.inProgress, failed: stage.failed,
			waiting: stage.waiting, opened: i <= row.opened, openedAt: row.openedAt[i] === undefined ? null : new Date(row.openedAt[i]!).toISOString(),
		}));
		const sum = (field: "devices" | "succeeded" | "inProgress" | "failed" | "waiting") => stages.reduce((total, stage) => total + stage[field], 0);
		const window = windowState(plan.windows, now);
		let waiting: string | null = null;
		if (row.state === "running") {
			const t = plan.thresholds;
			const verdict = judge(numbers.stages, row.opened, { success: t.success, error: t.error, minDevices: t.minDevices, soakMs: t.soakSeconds * 1000 },
				row.openedAt[row.opened] ?? row.createdAt, now);
			waiting = verdict.action === "wait" ? verdict.why : null;
		}
		const view: RolloutView = {
			id: row.id, kind: row.kind ?? "release", product: row.product, version: row.version, sequence: row.sequence,
			state: (ROLLOUT_STATES as readonly string[]).includes(row.state) ? row.state as RolloutState : "aborted",
			cause: row.cause, waiting,
			createdAt: new Date(row.createdAt).toISOString(), startAt: row.startAt === null ? null : new Date(row.startAt).toISOString(),
			windows: plan.windows, windowOpen: window.open, nextWindow: !window.open && window.opensAt !== null ? new Date(window.opensAt).toISOString() : null,
			filter: plan.filter, thresholds: plan.thresholds, stages, opened: row.opened,
			totals: { devices: sum("devices"), succeeded: sum("succeeded"), inProgress: sum("inProgress"), failed: sum("failed"), waiting: sum("waiting") },
			failures: [...numbers.failures].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([reason, count]) => ({ reason, count })),
		};
		if (events)
			view.events = (await this.#store.rolloutEvents(row.id)).map((event) => ({ at: new Date(event.at).toISOString(), state: event.state as RolloutState, cause: event.cause }));
		return view;
	}
}
