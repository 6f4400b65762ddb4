// Opens the database behind the fleet store: a SQLite file through better-sqlite3, or a PostgreSQL server
// through a pg pool, each wrapped in kysely so that the store has one set of queries for both.
// SQLite is set up so that a transaction that committed is on the disk (WAL with synchronous=FULL: it
// survives the process being killed, and a power cut), with foreign keys enforced. PostgreSQL's int8
// values, which pg returns as strings, are parsed to numbers here: the store keeps no integer above 2^53.
// SQLite's statements are prepared once per SQL text and kept (preparedOnce, below).
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
	return { db: new Kysely<Tables>({ dialect: new SqliteDialect({ database: preparedOnce(database) }) }), dialect: "sqlite" };
}

/** The most statements kept prepared; past it the oldest is dropped (better-sqlite3 finalizes it when collected). */
export const MAX_PREPARED_STATEMENTS = 256;

/** The database as kysely sees it, with each SQL text prepared once and its statement kept for the next query of the
 * same text. Why: kysely prepares every query it runs, and preparing (parsing the SQL, planning it) was about half of
 * a short query's time here (a poll's recordCheck: 0.28 ms with a prepare per statement, 0.11 ms with them kept).
 * Safe because better-sqlite3 runs one statement at a time on the store's one connection (no statement is reused
 * while it runs: the store never streams a query), a statement keeps no state between runs but its bindings, which
 * every run sets, and SQLite prepares a kept statement again by itself when the schema changes. The texts are
 * kysely's, with values bound as parameters, so there are few of them; the bound keeps a query built from a list
 * (one text per list length) from growing the cache without end. */
function preparedOnce(database: Database.Database) {
	const statements = new Map<string, Database.Statement>();
	return {
		prepare(source: string): Database.Statement {
			let statement = statements.get(source);
			if (statement === undefined) {
				statement = database.prepare(source);
				statements.set(source, statement);
				if (statements.size > MAX_PREPARED_STATEMENTS)
					statements.delete(statements.keys().next().value!);
			}
			return statement;
		},
		close(): void {
			statements.clear();
			database.close();
		},
	};
}

export function openPostgres(url: string): Connection {
	const pool = new pg.Pool({ connectionString: url, types: pgTypes, max: 10 });
	// A pooled connection that breaks while idle (the server restarted, say) is reported here; without a
	// listener it would end the process. The next query opens a new connection, or fails and says why.
	pool.on("error", () => {});
	return { db: new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) }), dialect: "postgres" };
}
