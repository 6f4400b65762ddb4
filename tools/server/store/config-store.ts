// The fleet store's part for configuration over the air (issue 12): signed config documents as uploaded, what each
// device last said of its config (the sequence of the document it runs, its source, digest, non-secret fields and
// damaged copies), its last known good config, its config history, and the documents that failed on it. Queries over
// the tables of schema version 3 (./schema.ts), for both databases; KyselyFleetStore (./store.ts) calls them, inside
// its own transaction where a report is recorded, so that a report and its config state are kept together.
import type { Kysely, Transaction } from "kysely";
import type { Tables } from "./schema.js";

type Db = Kysely<Tables> | Transaction<Tables>;

export type KeyRole = "firmware" | "config";
export const KEY_ROLES: readonly KeyRole[] = ["firmware", "config"];

/** A config document as stored. Times are ISO 8601. */
export interface ConfigDocRow {
	product: string;
	sequence: number;
	/** the devices it is for; null: every device of the product */
	devices: string[] | null;
	/** given only to the devices a config rollout offered it to */
	staged: boolean;
	/** the signed XFC1 bytes, exactly as uploaded */
	bytes: Uint8Array;
	sha256: string;
	createdAt: string;
	createdBy: string | null;
}

/** What a device last said of its config, and its last known good one. */
export interface DeviceConfigRow {
	deviceId: string;
	/** the sequence of the document it runs (0: its factory config), as it last named or reported it; null: unknown */
	sequence: number | null;
	source: string | null;
	sha256: string | null;
	fields: Record<string, unknown> | null;
	/** damaged copies it reported, e.g. ["working-1"] */
	lost: string[];
	/** the last document it reported config-valid for, with the config it then ran; null when none */
	lastKnownGood: { sequence: number; sha256: string | null; fields: Record<string, unknown> | null; at: string } | null;
	updatedAt: string;
}

export interface ConfigHistoryRow {
	id: number;
	at: string;
	/** "config" when the config it reported changed; else the report's config-* state */
	state: string;
	sequence: number | null;
	target: number | null;
	source: string | null;
	sha256: string | null;
	error: string | null;
}

/** The config part of a device's report (server.ts parseReport). */
export interface ConfigReport {
	deviceId: string;
	state: string;
	error?: string;
	configTarget?: number;
	config?: { sha256: string; fields: Record<string, string | number | boolean>; sequence?: number; source?: string; lost?: string[] };
}

/** The state a report names to change a history entry: a config-* state, or a change of the reported config. */
export const CONFIG_CHANGE = "config";
/** States after which the document (configTarget) is never offered to the device again. */
const FAILED_STATES = ["config-rolled-back", "config-rejected"];

const iso = (ms: number) => new Date(Number(ms)).toISOString();
const nullableNumber = (value: number | null) => value === null ? null : Number(value);
const json = <T>(text: string | null): T | null => text === null ? null : JSON.parse(text) as T;

export function configDocRow(row: Tables["config_docs"]): ConfigDocRow {
	return {
		product: row.product,
		sequence: Number(row.sequence),
		devices: json<string[]>(row.devices),
		staged: Number(row.staged) === 1,
		bytes: new Uint8Array(row.bytes),
		sha256: row.sha256,
		createdAt: iso(row.created_at),
		createdBy: row.created_by,
	};
}

function deviceConfigRow(row: Tables["device_configs"]): DeviceConfigRow {
	return {
		deviceId: row.device_id,
		sequence: nullableNumber(row.sequence),
		source: row.source,
		sha256: row.sha256,
		fields: json(row.fields),
		lost: json<string[]>(row.lost) ?? [],
		lastKnownGood: row.good_sequence === null ? null : {
			sequence: Number(row.good_sequence), sha256: row.good_sha256, fields: json(row.good_fields), at: iso(row.good_at ?? row.updated_at),
		},
		updatedAt: iso(row.updated_at),
	};
}

/** Inserts a document; false when its (product, sequence) exists. The caller holds the product's lock. */
export async function insertConfigDoc(db: Db, doc: Omit<ConfigDocRow, "createdAt">, at: Date): Promise<boolean> {
	const result = await db.insertInto("config_docs").values({
		product: doc.product, sequence: doc.sequence, devices: doc.devices ? JSON.stringify(doc.devices) : null, staged: doc.staged ? 1 : 0,
		bytes: Buffer.from(doc.bytes.buffer, doc.bytes.byteOffset, doc.bytes.byteLength), sha256: doc.sha256, created_at: at.getTime(),
		created_by: doc.createdBy,
	}).onConflict((conflict) => conflict.columns(["product", "sequence"]).doNothing()).executeTakeFirst();
	return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** A product's documents, newest first; with `after`, only those of a higher sequence. */
export async function selectConfigDocs(db: Db, product: string, after?: number): Promise<ConfigDocRow[]> {
	let query = db.selectFrom("config_docs").selectAll().where("product", "=", product);
	if (after !== undefined)
		query = query.where("sequence", ">", after);
	return (await query.orderBy("sequence", "desc").execute()).map(configDocRow);
}

export async function selectDeviceConfig(db: Db, deviceId: string): Promise<DeviceConfigRow | undefined> {
	const row = await db.selectFrom("device_configs").selectAll().where("device_id", "=", deviceId).executeTakeFirst();
	return row && deviceConfigRow(row);
}

/** The sequence a device named in its manifest request (the x-fota-config header). */
export async function noteSequence(db: Db, deviceId: string, sequence: number, at: Date): Promise<void> {
	await db.insertInto("device_configs").values({
		device_id: deviceId, sequence, source: null, sha256: null, fields: null, lost: null,
		good_sequence: null, good_sha256: null, good_fields: null, good_at: null, updated_at: at.getTime(),
	}).onConflict((conflict) => conflict.column("device_id").doUpdateSet({ sequence, updated_at: at.getTime() })).execute();
}

/** Keeps the config part of a report: the device's config state, a history entry when its config changed or the
 * report is a config-* state, its last known good config on "config-valid", a failure on "config-rolled-back" or
 * "config-rejected"; the history trimmed to the newest historyLimit. */
export async function recordConfigState(db: Db, report: ConfigReport, at: Date, historyLimit: number): Promise<void> {
	const now = at.getTime();
	const isConfigState = report.state.startsWith("config-");
	if (!report.config && !isConfigState)
		return;
	const before = await selectDeviceConfig(db, report.deviceId);
	const config = report.config;
	const sequence = config?.sequence ?? before?.sequence ?? null;
	const source = config?.source ?? before?.source ?? null;
	const sha256 = config?.sha256 ?? before?.sha256 ?? null;
	const fields = config ? JSON.stringify(config.fields) : before?.fields ? JSON.stringify(before.fields) : null;
	const lost = config ? (config.lost && config.lost.length > 0 ? JSON.stringify(config.lost) : null)
		: before && before.lost.length > 0 ? JSON.stringify(before.lost) : null;
	let good: Pick<Tables["device_configs"], "good_sequence" | "good_sha256" | "good_fields" | "good_at"> = before?.lastKnownGood
		? { good_sequence: before.lastKnownGood.sequence, good_sha256: before.lastKnownGood.sha256,
			good_fields: before.lastKnownGood.fields ? JSON.stringify(before.lastKnownGood.fields) : null, good_at: Date.parse(before.lastKnownGood.at) }
		: { good_sequence: null, good_sha256: null, good_fields: null, good_at: null };
	if (report.state === "config-valid" && report.configTarget !== undefined) {
		// the config it then runs is the document's, unless the report says it runs another (then its digest is unknown)
		const runsIt = config === undefined ? before?.sequence === report.configTarget : config.sequence === undefined || config.sequence === report.configTarget;
		good = { good_sequence: report.configTarget, good_sha256: runsIt ? sha256 : null, good_fields: runsIt ? fields : null, good_at: now };
	}
	const values = { sequence, source, sha256, fields, lost, ...good, updated_at: now };
	await db.insertInto("device_configs").values({ device_id: report.deviceId, ...values })
		.onConflict((conflict) => conflict.column("device_id").doUpdateSet(values)).execute();
	const changed = config !== undefined && (!before || before.sha256 !== config.sha256 || (config.sequence !== undefined && before.sequence !== config.sequence) ||
		(config.source !== undefined && before.source !== config.source) || (before.lost.join() !== (config.lost ?? []).join()));
	const entries: Omit<Tables["config_history"], "id">[] = [];
	if (changed)
		entries.push({ device_id: report.deviceId, at: now, state: CONFIG_CHANGE, sequence, target: null, source, sha256, error: lost ? `lost: ${JSON.parse(lost).join(", ")}` : null });
	if (isConfigState)
		entries.push({ device_id: report.deviceId, at: now, state: report.state, sequence, target: report.configTarget ?? null, source, sha256, error: report.error ?? null });
	for (const entry of entries)
		await db.insertInto("config_history").values(entry).execute();
	if (FAILED_STATES.includes(report.state) && report.configTarget !== undefined)
		await db.insertInto("config_failures").values({ device_id: report.deviceId, sequence: report.configTarget, state: report.state, reason: report.error ?? null, at: now })
			.onConflict((conflict) => conflict.columns(["device_id", "sequence"]).doNothing()).execute();
	if (entries.length > 0) {
		const firstDropped = db.selectFrom("config_history").select("id")
			.where("device_id", "=", report.deviceId).orderBy("id", "desc").limit(1).offset(Math.max(0, Math.floor(historyLimit)));
		await db.deleteFrom("config_history").where("device_id", "=", report.deviceId).where("id", "<=", firstDropped).execute();
	}
}

/** Newest first. */
export async function selectConfigHistory(db: Db, deviceId: string, limit?: number): Promise<ConfigHistoryRow[]> {
	let query = db.selectFrom("config_history").selectAll().where("device_id", "=", deviceId).orderBy("id", "desc");
	if (limit !== undefined)
		query = query.limit(Math.max(0, Math.floor(limit)));
	return (await query.execute()).map((row) => ({
		id: Number(row.id), at: iso(row.at), state: row.state, sequence: nullableNumber(row.sequence), target: nullableNumber(row.target),
		source: row.source, sha256: row.sha256, error: row.error,
	}));
}

/** The documents that failed on the device (rolled back or refused), by sequence, oldest first. */
export async function selectConfigFailures(db: Db, deviceId: string): Promise<{ sequence: number; state: string; reason: string | null; at: string }[]> {
	const rows = await db.selectFrom("config_failures").selectAll().where("device_id", "=", deviceId).orderBy("sequence").execute();
	return rows.map((row) => ({ sequence: Number(row.sequence), state: row.state, reason: row.reason, at: iso(row.at) }));
}
