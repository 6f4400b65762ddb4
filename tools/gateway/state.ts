// A gateway's durable state, in one SQLite file in its state folder (through kysely, opened as the fleet store opens
// SQLite: WAL with synchronous=FULL, so what a call resolved survives a SIGKILL and a power cut):
//   local_devices  each device (or child gateway's device) that asked through this gateway: its product and version,
//                  the gateways between it and us, and the last manifest the upstream gave for it (served unchanged
//                  while the upstream cannot be reached)
//   queue          the reports taken from local devices, in the order taken, until the upstream has them
//   cursors        the last forwarded seq taken from each child gateway (a batch sent again is taken once)
//   images         the cache's index: which images are complete (verified) and when each was last served
// A gateway is one process on one machine, so only SQLite: the fleet store's PostgreSQL is for several servers.
import { sql, type Kysely } from "kysely";
import { openSqlite } from "../server/store/connect.js";

export interface GatewayTables {
	local_devices: {
		device_id: string;
		product: string;
		version: string | null;
		/** JSON: the gateways between the device and us, nearest the device first */
		via: string;
		manifest: Uint8Array | null;
		image_url: string | null;
		image_sha256: string | null;
		/** when the upstream was asked for the manifest on record (ms): an older answer never replaces a newer one */
		manifest_at: number;
		updated_at: number;
	};
	queue: { seq: number; device_id: string; via: string; at: number; report: string };
	cursors: { sender: string; last_seq: number };
	images: { sha256: string; size: number; product: string; url: string; etag: string | null; complete: number; last_used: number };
}

export interface LocalDevice {
	deviceId: string;
	product: string;
	version: string | undefined;
	via: string[];
	manifest: Uint8Array | undefined;
	imageUrl: string | undefined;
	imageSha256: string | undefined;
}

export interface QueuedReport {
	seq: number;
	deviceId: string;
	via: string[];
	at: number;
	report: Record<string, unknown>;
}

export interface ImageRow {
	sha256: string;
	size: number;
	product: string;
	url: string;
	etag: string | undefined;
	complete: boolean;
	lastUsed: number;
}

const SCHEMA_VERSION = 1;

export class GatewayState {
	readonly #db: Kysely<GatewayTables>;

	private constructor(db: Kysely<GatewayTables>) {
		this.#db = db;
	}

	static async open(file: string): Promise<GatewayState> {
		const db = openSqlite(file).db as unknown as Kysely<GatewayTables>;
		try {
			const version = Number((await sql<{ user_version: number }>`pragma user_version`.execute(db)).rows[0]?.user_version ?? 0);
			if (version > SCHEMA_VERSION)
				throw new Error(`the gateway state ${file} has schema version ${version}, newer than this gateway knows (${SCHEMA_VERSION})`);
			if (version < 1) {
				await db.transaction().execute(async (trx) => {
					await trx.schema.createTable("local_devices")
						.addColumn("device_id", "text", (column) => column.primaryKey())
						.addColumn("product", "text", (column) => column.notNull())
						.addColumn("version", "text")
						.addColumn("via", "text", (column) => column.notNull())
						.addColumn("manifest", "blob")
						.addColumn("image_url", "text")
						.addColumn("image_sha256", "text")
						.addColumn("manifest_at", "integer", (column) => column.notNull().defaultTo(0))
						.addColumn("updated_at", "integer", (column) => column.notNull())
						.execute();
					// rowid order: an integer primary key that autoincrement never reuses, so seqs only rise
					await sql`create table queue (seq integer primary key autoincrement, device_id text not null, via text not null, at integer not null, report text not null)`.execute(trx);
					// seqs start from the time the state was made (ms × 1000): a gateway whose state was lost and made
					// again numbers above what its upstream took from it before, so nothing it sends is taken for a duplicate
					await sql`insert into sqlite_sequence (name, seq) values ('queue', ${Date.now() * 1000})`.execute(trx);
					await trx.schema.createTable("cursors")
						.addColumn("sender", "text", (column) => column.primaryKey())
						.addColumn("last_seq", "integer", (column) => column.notNull())
						.execute();
					await trx.schema.createTable("images")
						.addColumn("sha256", "text", (column) => column.primaryKey())
						.addColumn("size", "integer", (column) => column.notNull())
						.addColumn("product", "text", (column) => column.notNull())
						.addColumn("url", "text", (column) => column.notNull())
						.addColumn("etag", "text")
						.addColumn("complete", "integer", (column) => column.notNull())
						.addColumn("last_used", "integer", (column) => column.notNull())
						.execute();
					await sql.raw(`pragma user_version = ${SCHEMA_VERSION}`).execute(trx);
				});
			}
		} catch (error) {
			await db.destroy().catch(() => {});
			throw error;
		}
		return new GatewayState(db);
	}

	close(): Promise<void> {
		return this.#db.destroy();
	}

	// ---- local devices

	async device(deviceId: string): Promise<LocalDevice | undefined> {
		const row = await this.#db.selectFrom("local_devices").selectAll().where("device_id", "=", deviceId).executeTakeFirst();
		return row && localDevice(row);
	}

	async devices(): Promise<LocalDevice[]> {
		return (await this.#db.selectFrom("local_devices").selectAll().orderBy("device_id").execute()).map(localDevice);
	}

	/** A device asked: its product, version and chain (kept), and the manifest the upstream gave it when asked at
	 * `askedAt` (undefined: keep the last one; null: it has none now). An answer to an ask older than the one on record
	 * does not replace it (a slow answer from before a release must not undo the release). */
	async saw(deviceId: string, fields: { product: string; version?: string | undefined; via: string[] }, manifest?: { bytes: Uint8Array; url: string; sha256: string } | null, askedAt = Date.now()): Promise<void> {
		await this.#db.transaction().execute(async (trx) => {
			const known = await trx.selectFrom("local_devices").select("manifest_at").where("device_id", "=", deviceId).executeTakeFirst();
			const newer = manifest !== undefined && (!known || Number(known.manifest_at) <= askedAt);
			const values = { product: fields.product, via: JSON.stringify(fields.via), updated_at: Date.now(),
				...(fields.version !== undefined ? { version: fields.version } : {}),
				...(newer ? { manifest: manifest?.bytes ?? null, image_url: manifest?.url ?? null, image_sha256: manifest?.sha256 ?? null, manifest_at: askedAt } : {}) };
			await trx.insertInto("local_devices")
				.values({ device_id: deviceId, version: null, manifest: null, image_url: null, image_sha256: null, manifest_at: 0, ...values })
				.onConflict((conflict) => conflict.column("device_id").doUpdateSet(values))
				.execute();
		});
	}

	/** The images some device's manifest names now: the cache keeps them before any other. */
	async wantedImages(): Promise<Set<string>> {
		const rows = await this.#db.selectFrom("local_devices").select("image_sha256").distinct().where("image_sha256", "is not", null).execute();
		return new Set(rows.map((row) => row.image_sha256!));
	}

	// ---- the report queue

	/** Appends reports (one transaction: all or none), and moves a child gateway's cursor with them; resolves when
	 * they are on the disk. */
	async enqueue(reports: Omit<QueuedReport, "seq">[], cursor?: { sender: string; seq: number }): Promise<void> {
		await this.#db.transaction().execute(async (trx) => {
			for (const report of reports)
				await trx.insertInto("queue").values({ device_id: report.deviceId, via: JSON.stringify(report.via), at: report.at, report: JSON.stringify(report.report) } as never).execute();
			if (cursor)
				await trx.insertInto("cursors").values({ sender: cursor.sender, last_seq: cursor.seq })
					.onConflict((conflict) => conflict.column("sender").doUpdateSet({ last_seq: cursor.seq }))
					.execute();
		});
	}

	async lastSeqFrom(sender: string): Promise<number> {
		const row = await this.#db.selectFrom("cursors").select("last_seq").where("sender", "=", sender).executeTakeFirst();
		return row ? Number(row.last_seq) : 0;
	}

	/** The oldest queued reports, at most limit, in order. */
	async oldest(limit: number): Promise<QueuedReport[]> {
		const rows = await this.#db.selectFrom("queue").selectAll().orderBy("seq").limit(limit).execute();
		return rows.map((row) => ({ seq: Number(row.seq), deviceId: row.device_id, via: JSON.parse(row.via), at: Number(row.at), report: JSON.parse(row.report) }));
	}

	async queued(): Promise<number> {
		const row = await this.#db.selectFrom("queue").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
		return Number(row.n);
	}

	/** Removes what the upstream has answered for (stored, duplicate or refused for good). */
	async dequeue(seqs: number[]): Promise<void> {
		if (seqs.length > 0)
			await this.#db.deleteFrom("queue").where("seq", "in", seqs).execute();
	}

	// ---- the image cache's index

	async image(sha256: string): Promise<ImageRow | undefined> {
		const row = await this.#db.selectFrom("images").selectAll().where("sha256", "=", sha256).executeTakeFirst();
		return row && imageRow(row);
	}

	async images(): Promise<ImageRow[]> {
		return (await this.#db.selectFrom("images").selectAll().orderBy("last_used").execute()).map(imageRow);
	}

	async putImage(row: ImageRow): Promise<void> {
		const values = { size: row.size, product: row.product, url: row.url, etag: row.etag ?? null, complete: row.complete ? 1 : 0, last_used: row.lastUsed };
		await this.#db.insertInto("images").values({ sha256: row.sha256, ...values })
			.onConflict((conflict) => conflict.column("sha256").doUpdateSet(values)).execute();
	}

	async touchImage(sha256: string, at: number): Promise<void> {
		await this.#db.updateTable("images").set({ last_used: at }).where("sha256", "=", sha256).execute();
	}

	async dropImage(sha256: string): Promise<void> {
		await this.#db.deleteFrom("images").where("sha256", "=", sha256).execute();
	}
}

function localDevice(row: GatewayTables["local_devices"]): LocalDevice {
	return {
		deviceId: row.device_id,
		product: row.product,
		version: row.version ?? undefined,
		via: JSON.parse(row.via),
		manifest: row.manifest ? new Uint8Array(row.manifest) : undefined,
		imageUrl: row.image_url ?? undefined,
		imageSha256: row.image_sha256 ?? undefined,
	};
}

function imageRow(row: GatewayTables["images"]): ImageRow {
	return { sha256: row.sha256, size: Number(row.size), product: row.product, url: row.url, etag: row.etag ?? undefined, complete: Number(row.complete) === 1, lastUsed: Number(row.last_used) };
}
