// The management server's fleet store: devices and their report history, the deny list, products with
// their signing keys and releases, and API tokens. One schema (schema.ts) and the one set of queries below
// serve both databases: SQLite in a file by default, PostgreSQL when given a postgres:// URL (several
// servers can share one). Every query is parameterised by kysely, so any text is stored as it came.
// Times are kept as integer milliseconds and handed out as ISO 8601 strings.
import { createHash, randomBytes } from "node:crypto";
import { sql, type Kysely, type Transaction } from "kysely";
import { openPostgres, openSqlite } from "./connect.js";
import { migrate, type Tables } from "./schema.js";
import { HISTORY_CHECKED } from "../../../modules/fota/protocol.js";
import type { FleetSummary } from "../admin-api.js";
import { insertConfigDoc, noteSequence, recordConfigState, selectConfigDocs, selectConfigFailures, selectConfigHistory, selectDeviceConfig,
	type ConfigDocRow, type ConfigHistoryRow, type DeviceConfigRow, type KeyRole } from "./config-store.js";

export type { ConfigDocRow, ConfigHistoryRow, DeviceConfigRow, KeyRole } from "./config-store.js";
import { GatewayRegistry } from "./gateways.js";

export interface DeviceReport {
	deviceId: string;
	product: string;
	version: string;
	state: string;
	error?: string;
	target?: string;
	securityVersion?: number;
	sequence?: number;
	slot?: number;
	/** the device's config: its SHA-256 (hex) and its non-secret fields; the sequence of the document it runs (0: its
	 * factory config), where it comes from, and the copies found damaged (issue 12) */
	config?: { sha256: string; fields: Record<string, string | number | boolean>; sequence?: number; source?: string; lost?: string[] };
	/** the config document's sequence that a config-* state concerns */
	configTarget?: number;
}

export interface DeviceRow {
	deviceId: string;
	product: string;
	version: string;
	state: string;
	securityVersion: number | null;
	sequence: number | null;
	slot: number | null;
	/** ISO 8601 */
	firstSeen: string;
	/** ISO 8601 */
	lastSeen: string;
	lastError: string | null;
	target: string | null;
	revoked: boolean;
	configSha256: string | null;
	config: Record<string, unknown> | null;
	reports: number;
	/** the sequence of the config document it runs (0: its factory config) and where it comes from ("working",
	 * "factory"), as it last said; null when it never did */
	configSequence: number | null;
	configSource: string | null;
}

export interface ReportRow {
	id: number;
	deviceId: string;
	at: string;
	state: string;
	version: string;
	target: string | null;
	error: string | null;
}

export interface KeyRow {
	product: string;
	keyId: string;
	/** hex, 32 bytes */
	publicKey: string;
	/** "firmware": signs manifests; "config": signs config documents */
	role: KeyRole;
}

export interface ReleaseRow {
	product: string;
	sequence: number;
	version: string;
	securityVersion: number;
	kind: string;
	imageSha256: string;
	imageSize: number;
	/** the signed envelope, exact bytes */
	manifest: Uint8Array;
	publishedAt: string;
	/** served only through rollouts (published staged), not to every device of the product */
	staged: boolean;
}

/** A rollout as stored; the engine (../rollouts.ts) gives its meaning. Times are ms since the epoch. */
export interface RolloutRow {
	id: number;
	product: string;
	sequence: number;
	version: string;
	state: string;
	cause: string;
	/** the normalized spec, as the engine wrote it */
	spec: unknown;
	startAt: number | null;
	opened: number;
	/** when each opened stage opened */
	openedAt: number[];
	createdAt: number;
	updatedAt: number;
	/** "release", or "config": the rollout gives the product's config document of `sequence` */
	kind?: "release" | "config";
}

export type OfferStatus = "offered" | "succeeded" | "failed";

/** A device a rollout offered its release to. Times are ms since the epoch. */
export interface OfferRow {
	rollout: number;
	deviceId: string;
	stage: number;
	status: OfferStatus;
	reason: string | null;
	offeredAt: number;
	updatedAt: number;
}

/** The change would break a rule of the store: a release sequence not above the product's latest, a duplicate key id. */
export class StoreConflict extends Error {
	override name = "StoreConflict";
}

/** The change names something the store does not have: a key or a release for an unknown product. */
export class StoreNotFound extends Error {
	override name = "StoreNotFound";
}

export interface DeviceFilter {
	product?: string;
	version?: string;
	state?: string;
	/** a part of the device id or of its last error, any case */
	search?: string;
	limit?: number;
	offset?: number;
}

export interface FleetStore {
	readonly dialect: "sqlite" | "postgres";
	/** gateways: the devices behind each, and the forwarded reports taken (./gateways.ts) */
	readonly gateways: GatewayRegistry;
	close(): Promise<void>;
	/** One transaction: upsert the device (first/last seen, running version, state, counters, last error: kept while state != "valid" unless a new one comes, cleared by "valid"), insert the report into the history, trim the history to the newest historyLimit. Durable when it resolves; with options.light, a light commit instead (as a poll's: the caller's judgement, for a progress report that a later durable report supersedes: docs/server.md, "Durability"). */
	recordReport(report: DeviceReport, at: Date, historyLimit: number, guard?: (trx: Transaction<Tables>) => Promise<void>, options?: { light?: boolean }): Promise<DeviceRow>;
	/** A device fetched its manifest: its last-seen time moves (and its version, when it named the one it runs), and
	 * its history gets a "checked" entry unless its newest entry is one already (a polling device does not push its
	 * reports out of the history). A device never seen is added (state "checked") when it named its product and
	 * version, else nothing. With configSequence (the config sequence the device named in the request), also notes
	 * it as noteConfigSequence does, when it is not the one on record, in the same light commit. Returns whether an
	 * entry was added. */
	recordCheck(deviceId: string, at: Date, historyLimit: number, seen?: { product: string; version: string }, configSequence?: number): Promise<boolean>;
	device(deviceId: string): Promise<DeviceRow | undefined>;
	/** Ordered by deviceId. */
	devices(filter?: DeviceFilter): Promise<DeviceRow[]>;
	/** Newest first. */
	history(deviceId: string, limit?: number): Promise<ReportRow[]>;
	/** Adds the device to the deny list; works for a device never seen. */
	revoke(deviceId: string, at: Date): Promise<void>;
	isRevoked(deviceId: string): Promise<boolean>;
	/** Idempotent. */
	addProduct(product: string, at: Date): Promise<void>;
	products(): Promise<string[]>;
	/** StoreNotFound for an unknown product; StoreConflict when the product already has a key with this id (in either
	 * role: a key has one). role: "firmware" (default) or "config". */
	addKey(product: string, keyId: string, publicKeyHex: string, role?: KeyRole): Promise<void>;
	keys(product: string): Promise<KeyRow[]>;
	/** StoreConflict unless sequence > the product's latest (checked inside the transaction; a unique (product, sequence) backs it for concurrent servers). StoreNotFound for an unknown product. */
	addRelease(release: Omit<ReleaseRow, "publishedAt" | "staged"> & { staged?: boolean }, at: Date): Promise<ReleaseRow>;
	/** The newest release; with unstaged, the newest served to every device (not published staged). */
	latestRelease(product: string, options?: { unstaged?: boolean }): Promise<ReleaseRow | undefined>;
	/** Newest first. */
	releases(product: string): Promise<ReleaseRow[]>;
	/** A random token (32 bytes, base64url) returned once; only its SHA-256 is stored. */
	createToken(name: string, at: Date): Promise<{ id: number; token: string }>;
	checkToken(token: string): Promise<{ id: number; name: string } | undefined>;
	revokeToken(id: number): Promise<void>;
	/** Device counts by product, version and state. */
	fleetSummary(): Promise<FleetSummary>;
	/** The ids and running versions of a product's devices. */
	productDevices(product: string): Promise<{ deviceId: string; version: string }[]>;
	/** One transaction: StoreConflict when the product has a rollout that is not "aborted" or "complete", StoreNotFound
	 * for an unknown product; else the rollout and its first event (its state and cause). */
	createRollout(rollout: Omit<RolloutRow, "id" | "createdAt" | "updatedAt">, at: Date): Promise<RolloutRow>;
	rollout(id: number): Promise<RolloutRow | undefined>;
	/** Newest first; of one product, or all. */
	rollouts(product?: string): Promise<RolloutRow[]>;
	/** Changes a rollout's state only if it is still as expected (two servers judging one rollout: one wins), with an
	 * event naming the cause; returns whether it changed. */
	changeRollout(id: number, expected: { state: string; opened: number }, change: { state: string; opened: number; openedAt: number[]; cause: string; spec?: unknown }, at: Date): Promise<boolean>;
	/** Oldest first. */
	rolloutEvents(id: number): Promise<{ at: number; state: string; cause: string }[]>;
	/** Records that the rollout offered its release to the device; false when it had already. */
	offer(rollout: number, deviceId: string, stage: number, at: Date): Promise<boolean>;
	offers(rollout: number): Promise<OfferRow[]>;
	/** The device's offers, in every rollout. */
	offersTo(deviceId: string): Promise<OfferRow[]>;
	/** Sets an offer's outcome (or, with status "offered", only moves its last-report time). */
	settleOffer(rollout: number, deviceId: string, status: OfferStatus, reason: string | null, at: Date): Promise<void>;
	/** Keeps a signed config document (checked by the caller: ../configs.ts). StoreConflict when the product has a
	 * document of this sequence; StoreNotFound for an unknown product. */
	addConfigDoc(doc: Omit<ConfigDocRow, "createdAt">, at: Date): Promise<ConfigDocRow>;
	/** The product's documents, newest first; with after, only those of a higher sequence. */
	configDocs(product: string, after?: number): Promise<ConfigDocRow[]>;
	/** What the device last said of its config, and its last known good one. */
	deviceConfig(deviceId: string): Promise<DeviceConfigRow | undefined>;
	/** The device named the sequence of the config it runs (its manifest request's header). */
	noteConfigSequence(deviceId: string, sequence: number, at: Date): Promise<void>;
	/** Newest first. */
	configHistory(deviceId: string, limit?: number): Promise<ConfigHistoryRow[]>;
	/** The documents that were rolled back on the device or that it refused: never offered to it again. */
	configFailures(deviceId: string): Promise<{ sequence: number; state: string; reason: string | null; at: string }[]>;
}

type Db = Kysely<Tables> | Transaction<Tables>;

const iso = (ms: number) => new Date(Number(ms)).toISOString();
const sha256Hex = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
/** A count for LIMIT or OFFSET: a whole number, at least 0. */
const count = (value: number) => Math.max(0, Math.floor(value));
/** An offset without a limit is not SQL that SQLite takes; this stands for "no limit" on both. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

function deviceQuery(db: Db) {
	return db.selectFrom("devices")
		.leftJoin("revocations", "revocations.device_id", "devices.device_id")
		.select([
			"devices.device_id", "devices.product", "devices.version", "devices.state", "devices.security_version",
			"devices.sequence", "devices.slot", "devices.first_seen", "devices.last_seen", "devices.last_error",
			"devices.target", "devices.config_sha256", "devices.config", "devices.reports",
			"revocations.revoked_at",
		])
		.leftJoin("device_configs", "device_configs.device_id", "devices.device_id")
		.select(["device_configs.sequence as config_sequence", "device_configs.source as config_source"]);
}

type DeviceSelection = Awaited<ReturnType<ReturnType<typeof deviceQuery>["executeTakeFirstOrThrow"]>>;

/** Only integers that a number holds exactly go in, so that what comes out is what went in. */
function exact<T extends number | undefined>(name: string, value: T): T {
	if (value !== undefined && !Number.isSafeInteger(value))
		throw new RangeError(`${name} must be an integer within ±(2^53-1), not ${value}`);
	return value;
}

const nullableNumber = (value: number | null) => value === null ? null : Number(value);

function deviceRow(row: DeviceSelection): DeviceRow {
	return {
		deviceId: row.device_id,
		product: row.product,
		version: row.version,
		state: row.state,
		securityVersion: nullableNumber(row.security_version),
		sequence: nullableNumber(row.sequence),
		slot: nullableNumber(row.slot),
		firstSeen: iso(row.first_seen),
		lastSeen: iso(row.last_seen),
		lastError: row.last_error,
		target: row.target,
		revoked: row.revoked_at !== null,
		configSha256: row.config_sha256,
		config: row.config === null ? null : JSON.parse(row.config),
		reports: Number(row.reports),
		configSequence: nullableNumber(row.config_sequence),
		configSource: row.config_source,
	};
}

function releaseRow(row: Tables["releases"]): ReleaseRow {
	return {
		product: row.product,
		sequence: Number(row.sequence),
		version: row.version,
		securityVersion: Number(row.security_version),
		kind: row.kind,
		imageSha256: row.image_sha256,
		imageSize: Number(row.image_size),
		// A copy in a plain Uint8Array: the drivers hand out Buffers over pooled memory.
		manifest: new Uint8Array(row.manifest),
		publishedAt: iso(row.published_at),
		staged: Number(row.staged) === 1,
	};
}

function rolloutRow(row: Omit<Tables["rollouts"], "id" | "kind"> & { id: number; kind?: string }): RolloutRow {
	return {
		kind: row.kind === "config" ? "config" : "release",
		id: Number(row.id),
		product: row.product,
		sequence: Number(row.sequence),
		version: row.version,
		state: row.state,
		cause: row.cause,
		spec: JSON.parse(row.spec),
		startAt: nullableNumber(row.start_at),
		opened: Number(row.opened),
		openedAt: JSON.parse(row.opened_at),
		createdAt: Number(row.created_at),
		updatedAt: Number(row.updated_at),
	};
}

function offerRow(row: Tables["rollout_devices"]): OfferRow {
	return {
		rollout: Number(row.rollout),
		deviceId: row.device_id,
		stage: Number(row.stage),
		status: row.status as OfferStatus,
		reason: row.reason,
		offeredAt: Number(row.offered_at),
		updatedAt: Number(row.updated_at),
	};
}

/** Rollouts in these states are over; a product has at most one rollout in any other. */
const FINAL_ROLLOUT_STATES = ["aborted", "complete"];

/**
 * Takes the product's row lock (PostgreSQL) or the write lock (SQLite) by a no-op update, so that two
 * servers changing one product's keys or releases take turns; false when there is no such product.
 */
async function lockProduct(db: Transaction<Tables>, product: string): Promise<boolean> {
	const result = await db.updateTable("products")
		.set((eb) => ({ created_at: eb.ref("created_at") }))
		.where("name", "=", product)
		.executeTakeFirst();
	return Number(result.numUpdatedRows) > 0;
}

/** How long a product's facts read by every poll (below) are kept, ms: the rollout engine's cache keeps its rollouts
 * as long (../rollouts.ts). */
export const PRODUCT_CACHE_MS = 1000;

/**
 * What every manifest request asks of its product, kept a moment: the release served to every device (latestRelease
 * with unstaged) and the sequence of its newest config document (configDocs(product, after) then answers [] without a
 * query when the device runs that one or a later one). Two queries of each poll fewer. A release or a config document
 * added through this store empties its product's entry at once (and a read that began before cannot put an older
 * answer back: the generation moved); one added by another process sharing the database (servers on one PostgreSQL)
 * is seen here within PRODUCT_CACHE_MS, as their rollout changes are. Nothing else is kept: a revocation, a device's
 * state, an offer are read anew at every request.
 */
class ProductCache {
	readonly #entries = new Map<string, ProductEntry>();
	/** moves at every change: a read that began before one does not keep its answer */
	#generation = 0;

	/** The product's entry while it is fresh; else a new, empty one. */
	#entry(product: string): ProductEntry {
		const entry = this.#entries.get(product);
		if (entry && performance.now() - entry.at < PRODUCT_CACHE_MS)
			return entry;
		const fresh: ProductEntry = { at: performance.now() };
		this.#entries.set(product, fresh);
		return fresh;
	}

	async #keep<K extends keyof Omit<ProductEntry, "at">>(product: string, field: K, read: () => Promise<Exclude<ProductEntry[K], undefined>>): Promise<Exclude<ProductEntry[K], undefined>> {
		const entry = this.#entry(product);
		const kept = entry[field];
		if (kept !== undefined)
			return kept as Exclude<ProductEntry[K], undefined>;
		const generation = this.#generation;
		const value = await read();
		if (generation === this.#generation && this.#entries.get(product) === entry)
			entry[field] = value;
		return value;
	}

	baseline(product: string, read: () => Promise<{ row: ReleaseRow | undefined }>): Promise<{ row: ReleaseRow | undefined }> {
		return this.#keep(product, "baseline", read);
	}

	newestConfig(product: string, read: () => Promise<number | null>): Promise<number | null> {
		return this.#keep(product, "newestConfig", read);
	}

	/** The product's releases or config documents changed through this store. */
	changed(product: string): void {
		this.#generation++;
		this.#entries.delete(product);
	}
}

interface ProductEntry {
	/** performance.now() when the entry was made */
	at: number;
	/** the newest release served to every device, if any */
	baseline?: { row: ReleaseRow | undefined };
	/** the newest config document's sequence, null when there is none */
	newestConfig?: number | null;
}

class KyselyFleetStore implements FleetStore {
	readonly dialect: "sqlite" | "postgres";
	readonly #db: Kysely<Tables>;
	readonly gateways: GatewayRegistry;
	readonly #products = new ProductCache();

	constructor(db: Kysely<Tables>, dialect: "sqlite" | "postgres") {
		this.#db = db;
		this.dialect = dialect;
		this.gateways = new GatewayRegistry(db);
	}

	async close(): Promise<void> {
		await this.#db.destroy();
	}

	async recordReport(report: DeviceReport, at: Date, historyLimit: number, guard?: (trx: Transaction<Tables>) => Promise<void>, options: { light?: boolean } = {}): Promise<DeviceRow> {
		const now = at.getTime();
		exact("securityVersion", report.securityVersion);
		exact("sequence", report.sequence);
		exact("slot", report.slot);
		exact("configTarget", report.configTarget);
		exact("config.sequence", report.config?.sequence);
		const work = async (trx: Transaction<Tables>) => {
			await guard?.(trx); // the caller's own check in the same transaction (a gateway's cursor): a throw takes nothing
			const { id } = await trx.insertInto("devices")
				.values({
					device_id: report.deviceId,
					product: report.product,
					version: report.version,
					state: report.state,
					security_version: report.securityVersion ?? null,
					sequence: report.sequence ?? null,
					slot: report.slot ?? null,
					first_seen: now,
					last_seen: now,
					last_error: report.error ?? null,
					target: report.target ?? null,
					config_sha256: report.config?.sha256 ?? null,
					config: report.config ? JSON.stringify(report.config.fields) : null,
					reports: 1,
				})
				.onConflict((conflict) => conflict.column("device_id").doUpdateSet((eb) => ({
					product: eb.ref("excluded.product"),
					version: eb.ref("excluded.version"),
					state: eb.ref("excluded.state"),
					security_version: eb.ref("excluded.security_version"),
					sequence: eb.ref("excluded.sequence"),
					slot: eb.ref("excluded.slot"),
					last_seen: eb.ref("excluded.last_seen"),
					target: eb.ref("excluded.target"),
					// A new error replaces the last; without one, "valid" clears it and any other state keeps it.
					last_error: eb.case()
						.when("excluded.last_error", "is not", null).then(eb.ref("excluded.last_error"))
						.when("excluded.state", "=", "valid").then(null)
						.else(eb.ref("devices.last_error"))
						.end(),
					// A report without a config leaves the one on record.
					config_sha256: eb.fn.coalesce("excluded.config_sha256", "devices.config_sha256"),
					config: eb.fn.coalesce("excluded.config", "devices.config"),
					reports: eb("devices.reports", "+", 1),
				})))
				.returning("id")
				.executeTakeFirstOrThrow();
			await trx.insertInto("reports")
				.values({ device: id, at: now, state: report.state, version: report.version, target: report.target ?? null, error: report.error ?? null })
				.execute();
			await recordConfigState(trx, report, at, historyLimit);
			// Keep the newest historyLimit: delete from the first one past them down.
			const firstDropped = trx.selectFrom("reports").select("id")
				.where("device", "=", id).orderBy("id", "desc").limit(1).offset(count(historyLimit));
			await trx.deleteFrom("reports").where("device", "=", id).where("id", "<=", firstDropped).execute();
			return deviceRow(await deviceQuery(trx).where("devices.id", "=", id).executeTakeFirstOrThrow());
		};
		return options.light ? this.#lightCommit(work) : this.#db.transaction().execute(work);
	}

	/** A transaction whose commit need not be on the disk when it returns: the bookkeeping of a poll (when a device
	 * was last seen, its running version, the config sequence it names), which the device states again at every
	 * poll. Its commit survives the server process being killed (it is written; SQLite WAL with synchronous=NORMAL,
	 * PostgreSQL with synchronous_commit off for this transaction alone), and reaches the disk with the next durable
	 * commit; only a power cut of the server's machine before that can lose it, and the next poll restores it.
	 * Reports, releases, rollouts and everything else stay durable at their commit: what a device reports once is
	 * never lost. Why: a durable commit waits for a disk sync, and a poll then waits for it too (docs/server.md). */
	async #lightCommit<T>(work: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
		if (this.dialect === "postgres")
			return this.#db.transaction().execute(async (trx) => {
				await sql`SET LOCAL synchronous_commit = off`.execute(trx);
				return work(trx);
			});
		// SQLite takes the safety level only outside a transaction: set for this one on the store's one connection,
		// which nothing else uses meanwhile, and set back whatever happens
		return this.#db.connection().execute(async (connection) => {
			await sql`PRAGMA synchronous = NORMAL`.execute(connection);
			try {
				return await connection.transaction().execute(work);
			} finally {
				await sql`PRAGMA synchronous = FULL`.execute(connection);
			}
		});
	}

	async recordCheck(deviceId: string, at: Date, historyLimit: number, seen?: { product: string; version: string }, configSequence?: number): Promise<boolean> {
		const now = at.getTime();
		const named = exact("configSequence", configSequence);
		return this.#lightCommit(async (trx) => {
			// the device, its newest history entry and the config sequence on record: one query
			const found = await trx.selectFrom("devices")
				.select((eb) => ["devices.id", "devices.version",
					eb.selectFrom("reports").select("reports.state").whereRef("reports.device", "=", "devices.id").orderBy("reports.id", "desc").limit(1).as("newest"),
					eb.selectFrom("device_configs").select("device_configs.sequence").whereRef("device_configs.device_id", "=", "devices.device_id").as("config")])
				.where("devices.device_id", "=", deviceId).executeTakeFirst();
			if (named !== undefined) {
				const known = found ? found.config
					: (await trx.selectFrom("device_configs").select("sequence").where("device_id", "=", deviceId).executeTakeFirst())?.sequence;
				if (known === undefined || known === null || Number(known) !== named)
					await noteSequence(trx, deviceId, named, at);
			}
			if (!found && !seen)
				return false;
			let device: { id: number; version: string };
			if (!found) {
				device = await trx.insertInto("devices").values({
					device_id: deviceId, product: seen!.product, version: seen!.version, state: HISTORY_CHECKED, security_version: null, sequence: null,
					slot: null, first_seen: now, last_seen: now, last_error: null, target: null, config_sha256: null, config: null, reports: 0,
				}).returning(["id", "version"]).executeTakeFirstOrThrow();
			}
			else {
				device = { id: found.id, version: seen ? seen.version : found.version };
				await trx.updateTable("devices").set({ last_seen: now, ...(seen ? { version: seen.version } : {}) }).where("id", "=", device.id).execute();
				if (found.newest === HISTORY_CHECKED)
					return false;
			}
			await trx.insertInto("reports").values({ device: device.id, at: now, state: HISTORY_CHECKED, version: device.version, target: null, error: null }).execute();
			const firstDropped = trx.selectFrom("reports").select("id")
				.where("device", "=", device.id).orderBy("id", "desc").limit(1).offset(Math.max(0, historyLimit));
			await trx.deleteFrom("reports").where("device", "=", device.id).where("id", "<=", firstDropped).execute();
			return true;
		});
	}

	async device(deviceId: string): Promise<DeviceRow | undefined> {
		const row = await deviceQuery(this.#db).where("devices.device_id", "=", deviceId).executeTakeFirst();
		return row && deviceRow(row);
	}

	async devices(filter: DeviceFilter = {}): Promise<DeviceRow[]> {
		let query = deviceQuery(this.#db);
		if (filter.product !== undefined)
			query = query.where("devices.product", "=", filter.product);
		if (filter.version !== undefined)
			query = query.where("devices.version", "=", filter.version);
		if (filter.state !== undefined)
			query = query.where("devices.state", "=", filter.state);
		if (filter.search !== undefined) {
			// LIKE with its wildcards escaped: the text is matched as it is
			const pattern = `%${filter.search.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
			query = query.where((eb) => eb.or([
				sql<boolean>`lower(${eb.ref("devices.device_id")}) like ${pattern} escape '!'`,
				sql<boolean>`lower(${eb.ref("devices.last_error")}) like ${pattern} escape '!'`,
			]));
		}
		query = query.orderBy("devices.device_id");
		if (filter.limit !== undefined || filter.offset !== undefined)
			query = query.limit(count(filter.limit ?? NO_LIMIT)).offset(count(filter.offset ?? 0));
		return (await query.execute()).map(deviceRow);
	}

	async history(deviceId: string, limit?: number): Promise<ReportRow[]> {
		let query = this.#db.selectFrom("reports")
			.innerJoin("devices", "devices.id", "reports.device")
			.select(["reports.id", "devices.device_id", "reports.at", "reports.state", "reports.version", "reports.target", "reports.error"])
			.where("devices.device_id", "=", deviceId)
			.orderBy("reports.id", "desc");
		if (limit !== undefined)
			query = query.limit(count(limit));
		return (await query.execute()).map((row) => ({
			id: Number(row.id),
			deviceId: row.device_id,
			at: iso(row.at),
			state: row.state,
			version: row.version,
			target: row.target,
			error: row.error,
		}));
	}

	async revoke(deviceId: string, at: Date): Promise<void> {
		// Revoking again keeps the first time.
		await this.#db.insertInto("revocations").values({ device_id: deviceId, revoked_at: at.getTime() })
			.onConflict((conflict) => conflict.column("device_id").doNothing())
			.execute();
	}

	async isRevoked(deviceId: string): Promise<boolean> {
		return (await this.#db.selectFrom("revocations").select("device_id").where("device_id", "=", deviceId).executeTakeFirst()) !== undefined;
	}

	async addProduct(product: string, at: Date): Promise<void> {
		await this.#db.insertInto("products").values({ name: product, created_at: at.getTime() })
			.onConflict((conflict) => conflict.column("name").doNothing())
			.execute();
	}

	async products(): Promise<string[]> {
		return (await this.#db.selectFrom("products").select("name").orderBy("name").execute()).map((row) => row.name);
	}

	async addKey(product: string, keyId: string, publicKeyHex: string, role: KeyRole = "firmware"): Promise<void> {
		return this.#db.transaction().execute(async (trx) => {
			if (!await lockProduct(trx, product))
				throw new StoreNotFound(`no product ${JSON.stringify(product)}`);
			const result = await trx.insertInto("keys").values({ product, key_id: keyId, public_key: publicKeyHex, role })
				.onConflict((conflict) => conflict.columns(["product", "key_id"]).doNothing())
				.executeTakeFirst();
			if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0)
				throw new StoreConflict(`product ${JSON.stringify(product)} already has a key ${JSON.stringify(keyId)}`);
		});
	}

	async keys(product: string): Promise<KeyRow[]> {
		const rows = await this.#db.selectFrom("keys").selectAll().where("product", "=", product).orderBy("key_id").execute();
		return rows.map((row) => ({ product: row.product, keyId: row.key_id, publicKey: row.public_key, role: row.role === "config" ? "config" : "firmware" }));
	}

	async addRelease(release: Omit<ReleaseRow, "publishedAt" | "staged"> & { staged?: boolean }, at: Date): Promise<ReleaseRow> {
		exact("sequence", release.sequence);
		exact("securityVersion", release.securityVersion);
		exact("imageSize", release.imageSize);
		try {
			return await this.#addRelease(release, at);
		} finally {
			this.#products.changed(release.product);
		}
	}

	async #addRelease(release: Omit<ReleaseRow, "publishedAt" | "staged"> & { staged?: boolean }, at: Date): Promise<ReleaseRow> {
		return this.#db.transaction().execute(async (trx) => {
			// The lock first: a second server publishing for this product waits here, then sees this release.
			if (!await lockProduct(trx, release.product))
				throw new StoreNotFound(`no product ${JSON.stringify(release.product)}`);
			const latest = await trx.selectFrom("releases").select("sequence")
				.where("product", "=", release.product).orderBy("sequence", "desc").limit(1).executeTakeFirst();
			if (latest !== undefined && !(release.sequence > Number(latest.sequence)))
				throw new StoreConflict(`release sequence ${release.sequence} of ${JSON.stringify(release.product)} is not above the latest, ${latest.sequence}`);
			const row: Tables["releases"] = {
				product: release.product,
				sequence: release.sequence,
				version: release.version,
				security_version: release.securityVersion,
				kind: release.kind,
				image_sha256: release.imageSha256,
				image_size: release.imageSize,
				manifest: Buffer.from(release.manifest.buffer, release.manifest.byteOffset, release.manifest.byteLength),
				published_at: at.getTime(),
				staged: release.staged ? 1 : 0,
			};
			const result = await trx.insertInto("releases").values(row)
				.onConflict((conflict) => conflict.columns(["product", "sequence"]).doNothing())
				.executeTakeFirst();
			if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0)
				throw new StoreConflict(`release sequence ${release.sequence} of ${JSON.stringify(release.product)} exists`);
			return releaseRow(row);
		});
	}

	async latestRelease(product: string, options: { unstaged?: boolean } = {}): Promise<ReleaseRow | undefined> {
		if (options.unstaged) // every poll's question: kept a moment (ProductCache)
			return (await this.#products.baseline(product, async () => ({ row: await this.#latestRelease(product, options) }))).row;
		return this.#latestRelease(product, options);
	}

	async #latestRelease(product: string, options: { unstaged?: boolean }): Promise<ReleaseRow | undefined> {
		let query = this.#db.selectFrom("releases").selectAll().where("product", "=", product);
		if (options.unstaged)
			query = query.where("staged", "=", 0);
		const row = await query.orderBy("sequence", "desc").limit(1).executeTakeFirst();
		return row && releaseRow(row);
	}

	async releases(product: string): Promise<ReleaseRow[]> {
		const rows = await this.#db.selectFrom("releases").selectAll().where("product", "=", product).orderBy("sequence", "desc").execute();
		return rows.map(releaseRow);
	}

	async createToken(name: string, at: Date): Promise<{ id: number; token: string }> {
		const token = randomBytes(32).toString("base64url");
		const { id } = await this.#db.insertInto("tokens").values({ name, sha256: sha256Hex(token), created_at: at.getTime() })
			.returning("id").executeTakeFirstOrThrow();
		return { id: Number(id), token };
	}

	async checkToken(token: string): Promise<{ id: number; name: string } | undefined> {
		const row = await this.#db.selectFrom("tokens").select(["id", "name"]).where("sha256", "=", sha256Hex(token)).executeTakeFirst();
		return row && { id: Number(row.id), name: row.name };
	}

	async revokeToken(id: number): Promise<void> {
		await this.#db.deleteFrom("tokens").where("id", "=", id).execute();
	}

	async fleetSummary(): Promise<FleetSummary> {
		const byVersion = await this.#db.selectFrom("devices").select(["product", "version", (eb) => eb.fn.countAll<number>().as("n")])
			.groupBy(["product", "version"]).execute();
		const byState = await this.#db.selectFrom("devices").select(["product", "state", (eb) => eb.fn.countAll<number>().as("n")])
			.groupBy(["product", "state"]).execute();
		const products = new Map<string, FleetSummary["products"][number]>();
		const entry = (product: string) => {
			let found = products.get(product);
			if (!found)
				products.set(product, found = { product, devices: 0, versions: {}, states: {} });
			return found;
		};
		for (const row of byVersion) {
			const product = entry(row.product);
			product.devices += Number(row.n);
			product.versions[row.version] = Number(row.n);
		}
		for (const row of byState)
			entry(row.product).states[row.state] = Number(row.n);
		const list = [...products.values()].sort((a, b) => a.product < b.product ? -1 : a.product > b.product ? 1 : 0);
		return { devices: list.reduce((sum, product) => sum + product.devices, 0), products: list };
	}

	async productDevices(product: string): Promise<{ deviceId: string; version: string }[]> {
		const rows = await this.#db.selectFrom("devices").select(["device_id", "version"]).where("product", "=", product).execute();
		return rows.map((row) => ({ deviceId: row.device_id, version: row.version }));
	}

	async createRollout(rollout: Omit<RolloutRow, "id" | "createdAt" | "updatedAt">, at: Date): Promise<RolloutRow> {
		const now = at.getTime();
		return this.#db.transaction().execute(async (trx) => {
			if (!await lockProduct(trx, rollout.product))
				throw new StoreNotFound(`no product ${JSON.stringify(rollout.product)}`);
			// one release rollout and one config rollout of a product at a time
			const kind = rollout.kind ?? "release";
			const current = await trx.selectFrom("rollouts").select(["id", "state"]).where("product", "=", rollout.product)
				.where("state", "not in", FINAL_ROLLOUT_STATES).where("kind", "=", kind).executeTakeFirst();
			if (current)
				throw new StoreConflict(`${kind === "config" ? "config " : ""}rollout ${current.id} of ${JSON.stringify(rollout.product)} is ${current.state}: abort it (or let it complete) first`);
			const values = {
				product: rollout.product, sequence: exact("sequence", rollout.sequence), version: rollout.version, state: rollout.state, cause: rollout.cause,
				spec: JSON.stringify(rollout.spec), start_at: rollout.startAt, opened: rollout.opened, opened_at: JSON.stringify(rollout.openedAt),
				created_at: now, updated_at: now, kind,
			};
			const { id } = await trx.insertInto("rollouts").values(values).returning("id").executeTakeFirstOrThrow();
			await trx.insertInto("rollout_events").values({ rollout: id, at: now, state: rollout.state, cause: rollout.cause }).execute();
			return rolloutRow({ ...values, id });
		});
	}

	async rollout(id: number): Promise<RolloutRow | undefined> {
		const row = await this.#db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst();
		return row && rolloutRow(row);
	}

	async rollouts(product?: string): Promise<RolloutRow[]> {
		let query = this.#db.selectFrom("rollouts").selectAll();
		if (product !== undefined)
			query = query.where("product", "=", product);
		return (await query.orderBy("id", "desc").execute()).map(rolloutRow);
	}

	async changeRollout(id: number, expected: { state: string; opened: number }, change: { state: string; opened: number; openedAt: number[]; cause: string; spec?: unknown }, at: Date): Promise<boolean> {
		const now = at.getTime();
		return this.#db.transaction().execute(async (trx) => {
			const result = await trx.updateTable("rollouts")
				.set({ state: change.state, opened: change.opened, opened_at: JSON.stringify(change.openedAt), cause: change.cause, updated_at: now,
					...(change.spec !== undefined ? { spec: JSON.stringify(change.spec) } : {}) })
				.where("id", "=", id).where("state", "=", expected.state).where("opened", "=", expected.opened)
				.executeTakeFirst();
			if (Number(result.numUpdatedRows) === 0)
				return false;
			await trx.insertInto("rollout_events").values({ rollout: id, at: now, state: change.state, cause: change.cause }).execute();
			return true;
		});
	}

	async rolloutEvents(id: number): Promise<{ at: number; state: string; cause: string }[]> {
		const rows = await this.#db.selectFrom("rollout_events").select(["at", "state", "cause"]).where("rollout", "=", id).orderBy("id").execute();
		return rows.map((row) => ({ at: Number(row.at), state: row.state, cause: row.cause }));
	}

	async offer(rollout: number, deviceId: string, stage: number, at: Date): Promise<boolean> {
		const now = at.getTime();
		const result = await this.#db.insertInto("rollout_devices")
			.values({ rollout, device_id: deviceId, stage, status: "offered", reason: null, offered_at: now, updated_at: now })
			.onConflict((conflict) => conflict.columns(["rollout", "device_id"]).doNothing())
			.executeTakeFirst();
		return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
	}

	async offers(rollout: number): Promise<OfferRow[]> {
		return (await this.#db.selectFrom("rollout_devices").selectAll().where("rollout", "=", rollout).execute()).map(offerRow);
	}

	async offersTo(deviceId: string): Promise<OfferRow[]> {
		return (await this.#db.selectFrom("rollout_devices").selectAll().where("device_id", "=", deviceId).execute()).map(offerRow);
	}

	async settleOffer(rollout: number, deviceId: string, status: OfferStatus, reason: string | null, at: Date): Promise<void> {
		await this.#db.updateTable("rollout_devices").set({ status, reason, updated_at: at.getTime() })
			.where("rollout", "=", rollout).where("device_id", "=", deviceId).execute();
	}

	async addConfigDoc(doc: Omit<ConfigDocRow, "createdAt">, at: Date): Promise<ConfigDocRow> {
		exact("sequence", doc.sequence);
		try {
			return await this.#db.transaction().execute(async (trx) => {
				if (!await lockProduct(trx, doc.product))
					throw new StoreNotFound(`no product ${JSON.stringify(doc.product)}`);
				if (!await insertConfigDoc(trx, doc, at))
					throw new StoreConflict(`config document sequence ${doc.sequence} of ${JSON.stringify(doc.product)} exists`);
				return { ...doc, createdAt: iso(at.getTime()) };
			});
		} finally {
			this.#products.changed(doc.product);
		}
	}

	async configDocs(product: string, after?: number): Promise<ConfigDocRow[]> {
		if (after !== undefined) { // a poll's question, "anything newer than what the device runs?": usually no (ProductCache)
			const newest = await this.#products.newestConfig(product, async () => {
				const row = await this.#db.selectFrom("config_docs").select("sequence").where("product", "=", product)
					.orderBy("sequence", "desc").limit(1).executeTakeFirst();
				return row === undefined ? null : Number(row.sequence);
			});
			if (newest === null || newest <= after)
				return [];
		}
		return selectConfigDocs(this.#db, product, after);
	}

	deviceConfig(deviceId: string): Promise<DeviceConfigRow | undefined> {
		return selectDeviceConfig(this.#db, deviceId);
	}

	noteConfigSequence(deviceId: string, sequence: number, at: Date): Promise<void> {
		const checked = exact("sequence", sequence);
		return this.#lightCommit((trx) => noteSequence(trx, deviceId, checked, at));
	}

	configHistory(deviceId: string, limit?: number): Promise<ConfigHistoryRow[]> {
		return selectConfigHistory(this.#db, deviceId, limit);
	}

	configFailures(deviceId: string): Promise<{ sequence: number; state: string; reason: string | null; at: string }[]> {
		return selectConfigFailures(this.#db, deviceId);
	}
}

/** url: a postgres:// URL, or undefined for SQLite in `file` (created with its folder). Applies the versioned migrations at open (a table records the applied versions; safe when several servers open one PostgreSQL database at once). */
export async function openStore(options: { url?: string; file?: string }): Promise<FleetStore> {
	let connection;
	if (options.url !== undefined) {
		if (!/^postgres(ql)?:\/\//i.test(options.url))
			throw new Error("the database URL must start with postgres:// or postgresql://");
		connection = openPostgres(options.url);
	} else if (options.file !== undefined) {
		connection = openSqlite(options.file);
	} else {
		throw new Error("openStore needs a postgres:// url or a SQLite file");
	}
	try {
		await migrate(connection.db, connection.dialect);
	} catch (error) {
		await connection.db.destroy().catch(() => {});
		throw error;
	}
	return new KyselyFleetStore(connection.db, connection.dialect);
}
