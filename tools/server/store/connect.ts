// Opens the database behind the fleet store: a SQLite file through better-sqlite3, or a PostgreSQL server
// through a pg pool, each wrapped in kysely so that the store has one set of queries for both.
// SQLite is set up so that a transaction that committed is on the disk (WAL with synchronous=FULL: it
// survives the process being killed, and a power cut), with foreign keys enforced. PostgreSQL's int8
// values, which pg returns as strings, are parsed to numbers here: the store keeps no integer above 2^53.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import type { Dialect, Tables } from "./schema.js";

export interface Connection {
	db: Kysely<Tables>;
	dialect: Dialect;
}

function parseInt8(text: string): number {
	const value = Number(text);
	if (!Number.isSafeInteger(value))
		throw new RangeError(`the database returned ${text}, an integer beyond 2^53 that the store cannot hold exactly`);
	return value;
}

/** pg's parsers, but for int8 (bigint, count(*), identity ids), which becomes a number. */
const pgTypes = {
	getTypeParser: ((oid: number, format?: "text" | "binary") =>
		oid === pg.types.builtins.INT8 && format !== "binary" ? parseInt8 : pg.types.getTypeParser(oid, format as any)) as typeof pg.types.getTypeParser,
};

export function openSqlite(file: string): Connection {
	const path = resolve(file);
	mkdirSync(dirname(path), { recursive: true });
	// timeout: how long to wait for another process's write lock before giving up with SQLITE_BUSY.
	const database = new Database(path, { timeout: 5000 });
	try {
		database.pragma("journal_mode = WAL");
		database.pragma("synchronous = FULL");
		database.pragma("foreign_keys = ON");
		if (database.pragma("journal_mode", { simple: true }) !== "wal")
			throw new Error(`${path}: SQLite would not use write-ahead logging`);
	} catch (error) {
		database.close();
		throw error;
	}
	return { db: new Kysely<Tables>({ dialect: new SqliteDialect({ database }) }), dialect: "sqlite" };
}

export function openPostgres(url: string): Connection {
	const pool = new pg.Pool({ connectionString: url, types: pgTypes, max: 10 });
	// A pooled connection that breaks while idle (the server restarted, say) is reported here; without a
	// listener it would end the process. The next query opens a new connection, or fails and says why.
	pool.on("error", () => {});
	return { db: new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) }), dialect: "postgres" };
}
