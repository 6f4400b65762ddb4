// The fleet store's tables, and the versioned migrations that make them, written once for SQLite and
// PostgreSQL through kysely's schema builder. Only two column types differ by dialect (an auto-numbered id
// and a byte string); everything else is the same SQL text on both.
// Rows are kept compact on purpose (a fleet is many devices with a history each): times are integer
// milliseconds since the epoch, and a report points at its device by the device's integer id, not its name.
// The applied versions are recorded in schema_migrations, each in the transaction that applied it; on
// PostgreSQL a transaction-scoped advisory lock makes servers that open one database at once take turns,
// and on SQLite "begin immediate" does the same for processes sharing a file.
import { sql, type ColumnDefinitionBuilder, type Generated, type Kysely } from "kysely";

export type Dialect = "sqlite" | "postgres";

/** The tables as kysely sees them. Integers are numbers: the PostgreSQL pool parses int8 to a number. */
export interface Tables {
	schema_migrations: { version: number; applied_at: number };
	products: { name: string; created_at: number };
	devices: {
		id: Generated<number>;
		device_id: string;
		product: string;
		version: string;
		state: string;
		security_version: number | null;
		sequence: number | null;
		slot: number | null;
		first_seen: number;
		last_seen: number;
		last_error: string | null;
		target: string | null;
		config_sha256: string | null;
		/** The config's non-secret fields, as JSON text. */
		config: string | null;
		reports: number;
	};
	reports: {
		id: Generated<number>;
		/** devices.id */
		device: number;
		at: number;
		state: string;
		version: string;
		target: string | null;
		error: string | null;
	};
	revocations: { device_id: string; revoked_at: number };
	/** role: "firmware" (signs manifests) or "config" (signs config documents); a key has one role (v3) */
	keys: { product: string; key_id: string; public_key: string; role: string };
	releases: {
		product: string;
		sequence: number;
		version: string;
		security_version: number;
		kind: string;
		image_sha256: string;
		image_size: number;
		manifest: Uint8Array;
		published_at: number;
		/** 1: served only through rollouts (published staged); 0: the product's release for every device (v2) */
		staged: number;
	};
	tokens: { id: Generated<number>; name: string; sha256: string; created_at: number };
	rollouts: {
		id: Generated<number>;
		product: string;
		sequence: number;
		version: string;
		state: string;
		/** the cause of the last state change */
		cause: string;
		/** JSON: the normalized spec (filter, stages, thresholds, windows, seed) */
		spec: string;
		start_at: number | null;
		/** the index of the last opened stage, -1 before the start */
		opened: number;
		/** JSON: when each opened stage opened, ms */
		opened_at: string;
		created_at: number;
		updated_at: number;
		/** "release", or "config": the rollout gives the config document of `sequence` (v3) */
		kind: Generated<string>;
	};
	rollout_events: { id: Generated<number>; rollout: number; at: number; state: string; cause: string };
	/** Which gateway a device is registered behind (an admin's decision): that gateway, and only it, acts for it. */
	gateway_devices: { device_id: string; gateway_id: string; registered_at: number };
	/** The last forwarded report's seq taken from each gateway: a report resent after a cut is taken once. */
	gateway_cursors: { gateway_id: string; last_seq: number };
	/** A device a rollout offered its release to, and how that went. */
	rollout_devices: {
		rollout: number;
		device_id: string;
		stage: number;
		/** offered | succeeded | failed */
		status: string;
		/** a failure's reason ("selftest-failed", "timed-out", ...) */
		reason: string | null;
		offered_at: number;
		/** the last report about the release (a timeout runs from it) */
		updated_at: number;
	};
	/** A signed config document (v3), kept exactly as uploaded; (product, sequence) is unique. */
	config_docs: {
		product: string;
		sequence: number;
		/** JSON: the device ids it is for, or null for every device of the product */
		devices: string | null;
		/** 1: given only to the devices a config rollout offered it to */
		staged: number;
		bytes: Uint8Array;
		sha256: string;
		created_at: number;
		created_by: string | null;
	};
	/** What each device last said of its config (v3), and its last known good one. */
	device_configs: {
		device_id: string;
		/** the sequence of the document it runs (0: its factory config), as last named or reported */
		sequence: number | null;
		/** "working" | "factory", as last reported */
		source: string | null;
		sha256: string | null;
		/** JSON: the non-secret fields last reported */
		fields: string | null;
		/** JSON: the damaged copies it last reported, e.g. ["working-1"] */
		lost: string | null;
		/** the last document it reported config-valid for, with the config it then ran */
		good_sequence: number | null;
		good_sha256: string | null;
		good_fields: string | null;
		good_at: number | null;
		updated_at: number;
	};
	/** A device's config history (v3): a changed config it reported, and each config-* outcome. */
	config_history: {
		id: Generated<number>;
		device_id: string;
		at: number;
		/** "config" for a change of the reported config, else the report's config-* state */
		state: string;
		/** the sequence it then ran */
		sequence: number | null;
		/** the document a config-* state concerns */
		target: number | null;
		source: string | null;
		sha256: string | null;
		error: string | null;
	};
	/** Documents whose trial failed on a device, or that it refused (v3): never offered to it again. */
	config_failures: { device_id: string; sequence: number; state: string; reason: string | null; at: number };
}

/** The column types and builders that differ by dialect. */
function columns(dialect: Dialect) {
	return {
		/** A 64-bit id numbered by the database, never reused. */
		id: dialect === "sqlite" ? "integer" as const : "bigint" as const,
		idColumn: (column: ColumnDefinitionBuilder) => dialect === "sqlite"
			? column.primaryKey().autoIncrement()
			: column.primaryKey().generatedByDefaultAsIdentity(),
		bytes: dialect === "sqlite" ? "blob" as const : "bytea" as const,
	};
}

interface Migration {
	version: number;
	description: string;
	up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

/** In order; a version, once released, is never edited: a change to the schema is a new version. */
export const MIGRATIONS: readonly Migration[] = [
	{
		version: 1,
		description: "products, devices with their report history, revocations, keys, releases, API tokens",
		async up(db, dialect) {
			const type = columns(dialect);
			await db.schema.createTable("products")
				.addColumn("name", "text", (column) => column.primaryKey())
				.addColumn("created_at", "bigint", (column) => column.notNull())
				.execute();
			await db.schema.createTable("devices")
				.addColumn("id", type.id, type.idColumn)
				.addColumn("device_id", "text", (column) => column.notNull().unique())
				.addColumn("product", "text", (column) => column.notNull())
				.addColumn("version", "text", (column) => column.notNull())
				.addColumn("state", "text", (column) => column.notNull())
				.addColumn("security_version", "bigint")
				.addColumn("sequence", "bigint")
				.addColumn("slot", "integer")
				.addColumn("first_seen", "bigint", (column) => column.notNull())
				.addColumn("last_seen", "bigint", (column) => column.notNull())
				.addColumn("last_error", "text")
				.addColumn("target", "text")
				.addColumn("config_sha256", "text")
				.addColumn("config", "text")
				.addColumn("reports", "bigint", (column) => column.notNull())
				.execute();
			await db.schema.createTable("reports")
				.addColumn("id", type.id, type.idColumn)
				.addColumn("device", type.id, (column) => column.notNull().references("devices.id").onDelete("cascade"))
				.addColumn("at", "bigint", (column) => column.notNull())
				.addColumn("state", "text", (column) => column.notNull())
				.addColumn("version", "text", (column) => column.notNull())
				.addColumn("target", "text")
				.addColumn("error", "text")
				.execute();
			// A device's reports, newest first: on SQLite the index's entries end with the rowid (the id), so
			// one column is enough; on PostgreSQL the few rows of one device are sorted after the lookup.
			await db.schema.createIndex("reports_by_device").on("reports").column("device").execute();
			// The deny list names devices, seen or not, so it is not tied to the devices table.
			await db.schema.createTable("revocations")
				.addColumn("device_id", "text", (column) => column.primaryKey())
				.addColumn("revoked_at", "bigint", (column) => column.notNull())
				.execute();
			await db.schema.createTable("keys")
				.addColumn("product", "text", (column) => column.notNull().references("products.name"))
				.addColumn("key_id", "text", (column) => column.notNull())
				.addColumn("public_key", "text", (column) => column.notNull())
				.addPrimaryKeyConstraint("keys_pk", ["product", "key_id"])
				.execute();
			// (product, sequence) is the primary key: two servers can never both publish one sequence.
			await db.schema.createTable("releases")
				.addColumn("product", "text", (column) => column.notNull().references("products.name"))
				.addColumn("sequence", "bigint", (column) => column.notNull())
				.addColumn("version", "text", (column) => column.notNull())
				.addColumn("security_version", "bigint", (column) => column.notNull())
				.addColumn("kind", "text", (column) => column.notNull())
				.addColumn("image_sha256", "text", (column) => column.notNull())
				.addColumn("image_size", "bigint", (column) => column.notNull())
				.addColumn("manifest", type.bytes, (column) => column.notNull())
				.addColumn("published_at", "bigint", (column) => column.notNull())
				.addPrimaryKeyConstraint("releases_pk", ["product", "sequence"])
				.execute();
			// Only the token's SHA-256 (hex) is kept; the token itself is shown once, when it is made.
			await db.schema.createTable("tokens")
				.addColumn("id", type.id, type.idColumn)
				.addColumn("name", "text", (column) => column.notNull())
				.addColumn("sha256", "text", (column) => column.notNull().unique())
				.addColumn("created_at", "bigint", (column) => column.notNull())
				.execute();
		},
	},
	{
		version: 2,
		description: "staged releases; rollouts, their state changes, and the devices each offered its release to",
		async up(db, dialect) {
			const type = columns(dialect);
			await db.schema.alterTable("releases").addColumn("staged", "integer", (column) => column.notNull().defaultTo(0)).execute();
			await db.schema.createTable("rollouts")
				.addColumn("id", type.id, type.idColumn)
				.addColumn("product", "text", (column) => column.notNull().references("products.name"))
				.addColumn("sequence", "bigint", (column) => column.notNull())
				.addColumn("version", "text", (column) => column.notNull())
				.addColumn("state", "text", (column) => column.notNull())
				.addColumn("cause", "text", (column) => column.notNull())
				.addColumn("spec", "text", (column) => column.notNull())
				.addColumn("start_at", "bigint")
				.addColumn("opened", "integer", (column) => column.notNull())
				.addColumn("opened_at", "text", (column) => column.notNull())
				.addColumn("created_at", "bigint", (column) => column.notNull())
				.addColumn("updated_at", "bigint", (column) => column.notNull())
				.execute();
			await db.schema.createIndex("rollouts_by_product").on("rollouts").column("product").execute();
			await db.schema.createTable("rollout_events")
				.addColumn("id", type.id, type.idColumn)
				.addColumn("rollout", type.id, (column) => column.notNull().references("rollouts.id").onDelete("cascade"))
				.addColumn("at", "bigint", (column) => column.notNull())
				.addColumn("state", "text", (column) => column.notNull())
				.addColumn("cause", "text", (column) => column.notNull())
				.execute();
			await db.schema.createIndex("rollout_events_by_rollout").on("rollout_events").column("rollout").execute();
			await db.schema.createTable("rollout_devices")
				.addColumn("rollout", type.id, (column) => column.notNull().references("rollouts.id").onDelete("cascade"))
				.addColumn("device_id", "text", (column) => column.notNull())
				.addColumn("stage", "integer", (column) => column.notNull())
				.addColumn("status", "text", (column) => column.notNull())
				.addColumn("reason", "text")
				.addColumn("offered_at", "bigint", (column) => column.notNull())
				.addColumn("updated_at", "bigint", (column) => column.notNull())
				.addPrimaryKeyConstraint("rollout_devices_pk", ["rollout", "device_id"])
				.execute();
			// A device's offers, across rollouts, for its manifest requests.
			await db.schema.createIndex("rollout_devices_by_device").on("rollout_devices").column("device_id").execute();
		},
	},
	{
		version: 3,
		description: "key roles; config documents, each device's config and its last known good one, config history and failures; rollout kinds",
		async up(db, dialect) {
			const type = columns(dialect);
			await db.schema.alterTable("keys").addColumn("role", "text", (column) => column.notNull().defaultTo("firmware")).execute();
			// A rollout carries a release ("release") or a config document ("config", its sequence in `sequence`).
			await db.schema.alterTable("rollouts").addColumn("kind", "text", (column) => column.notNull().defaultTo("release")).execute();
			await db.schema.createTable("config_docs")
				.addColumn("product", "text", (column) => column.notNull().references("products.name"))
				.addColumn("sequence", "bigint", (column) => column.notNull())
				.addColumn("devices", "text")
				.addColumn("staged", "integer", (column) => column.notNull().defaultTo(0))
				.addColumn("bytes", type.bytes, (column) => column.notNull())
				.addColumn("sha256", "text", (column) => column.notNull())
				.addColumn("created_at", "bigint", (column) => column.notNull())
				.addColumn("created_by", "text")
				.addPrimaryKeyConstraint("config_docs_pk", ["product", "sequence"])
				.execute();
			await db.schema.createTable("device_configs")
				.addColumn("device_id", "text", (column) => column.primaryKey())
				.addColumn("sequence", "bigint")
				.addColumn("source", "text")
				.addColumn("sha256", "text")
				.addColumn("fields", "text")
				.addColumn("lost", "text")
				.addColumn("good_sequence", "bigint")
				.addColumn("good_sha256", "text")
				.addColumn("good_fields", "text")
				.addColumn("good_at", "bigint")
				.addColumn("updated_at", "bigint", (column) => column.notNull())
				.execute();
			await db.schema.createTable("config_history")
				.addColumn("id", type.id, type.idColumn)
				.addColumn("device_id", "text", (column) => column.notNull())
				.addColumn("at", "bigint", (column) => column.notNull())
				.addColumn("state", "text", (column) => column.notNull())
				.addColumn("sequence", "bigint")
				.addColumn("target", "bigint")
				.addColumn("source", "text")
				.addColumn("sha256", "text")
				.addColumn("error", "text")
				.execute();
			await db.schema.createIndex("config_history_by_device").on("config_history").column("device_id").execute();
			await db.schema.createTable("config_failures")
				.addColumn("device_id", "text", (column) => column.notNull())
				.addColumn("sequence", "bigint", (column) => column.notNull())
				.addColumn("state", "text", (column) => column.notNull())
				.addColumn("reason", "text")
				.addColumn("at", "bigint", (column) => column.notNull())
				.addPrimaryKeyConstraint("config_failures_pk", ["device_id", "sequence"])
				.execute();
		},
	},
	{
		version: 4,
		description: "gateways: the devices registered behind each gateway, and the last report taken from each",
		async up(db) {
			await db.schema.createTable("gateway_devices")
				.addColumn("device_id", "text", (column) => column.primaryKey())
				.addColumn("gateway_id", "text", (column) => column.notNull())
				.addColumn("registered_at", "bigint", (column) => column.notNull())
				.execute();
			await db.schema.createIndex("gateway_devices_by_gateway").on("gateway_devices").column("gateway_id").execute();
			await db.schema.createTable("gateway_cursors")
				.addColumn("gateway_id", "text", (column) => column.primaryKey())
				.addColumn("last_seq", "bigint", (column) => column.notNull())
				.execute();
		},
	},
];

/** An arbitrary constant naming this schema's advisory lock on PostgreSQL ("xsfota" in ASCII). */
const MIGRATION_LOCK = 0x787366_6f7461;

/** Applies the migrations not yet recorded, all in one transaction; returns the versions it applied. */
export async function migrate(db: Kysely<Tables>, dialect: Dialect, now = new Date()): Promise<number[]> {
	return db.connection().execute(async (connection) => {
		// Our own begin, not kysely's transaction(): SQLite needs "immediate" so that two processes opening one
		// file cannot both read the versions and then both try to write.
		await sql.raw(dialect === "sqlite" ? "begin immediate" : "begin").execute(connection);
		try {
			if (dialect === "postgres")
				await sql`select pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK)})`.execute(connection);
			await connection.schema.createTable("schema_migrations").ifNotExists()
				.addColumn("version", "integer", (column) => column.primaryKey())
				.addColumn("applied_at", "bigint", (column) => column.notNull())
				.execute();
			const done = new Set((await connection.selectFrom("schema_migrations").select("version").execute()).map((row) => Number(row.version)));
			const newest = Math.max(0, ...MIGRATIONS.map((migration) => migration.version));
			const unknown = [...done].filter((version) => version > newest);
			if (unknown.length > 0)
				throw new Error(`the database has schema version ${Math.max(...unknown)}, newer than this server knows (${newest}): upgrade the server`);
			const applied: number[] = [];
			for (const migration of MIGRATIONS) {
				if (done.has(migration.version))
					continue;
				await migration.up(connection, dialect);
				await connection.insertInto("schema_migrations").values({ version: migration.version, applied_at: now.getTime() }).execute();
				applied.push(migration.version);
			}
			await sql.raw("commit").execute(connection);
			return applied;
		} catch (error) {
			await sql.raw("rollback").execute(connection).catch(() => {});
			throw error;
		}
	});
}
