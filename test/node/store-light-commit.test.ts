// The fleet store's two kinds of commit, seen in the SQL each database is sent: a poll's bookkeeping (recordCheck,
// noteConfigSequence) commits without waiting for a disk sync (SQLite: synchronous=NORMAL around that transaction
// alone, then FULL again; PostgreSQL: SET LOCAL synchronous_commit = off inside it), and a report commits durably
// (no such statement anywhere near it). The statements are caught where the drivers take them (better-sqlite3's
// prepare, pg's Client.query), so these tests watch what the real store sends, not a stand-in.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { startPostgres, type PostgresCluster } from "./lib/postgres.js";
import { openStore, type FleetStore } from "../../tools/server/store/store.js";

const sent: string[] = [];
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (this: Database.Database, source: string) {
	sent.push(source);
	return prepare.call(this, source);
} as typeof prepare;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
	const text = typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text;
	if (text)
		sent.push(text);
	return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

let cluster: PostgresCluster | undefined;
test.before(async () => {
	cluster = await startPostgres();
});
test.after.always(async () => {
	await cluster?.stop();
});

async function stores(): Promise<[string, FleetStore][]> {
	const file = join(mkdtempSync(join(tmpdir(), "xs-fota-light-")), "fleet.db");
	return [["sqlite", await openStore({ file })], ["postgres", await openStore({ url: await cluster!.createDatabase(`light_${Date.now()}`) })]];
}

/** The statements one call sends, lower-cased. */
async function during(call: () => Promise<unknown>): Promise<string[]> {
	sent.length = 0;
	await call();
	return sent.map((text) => text.trim().toLowerCase());
}

const relaxed = (dialect: string) => dialect === "sqlite" ? "pragma synchronous = normal" : "set local synchronous_commit = off";

test.serial("a poll's bookkeeping commits without a disk sync; the durable level is back right after", async (t) => {
	for (const [dialect, store] of await stores()) {
		try {
			const check = await during(() => store.recordCheck("dev-a", new Date(1000), 10, { product: "thermo", version: "1.0.0" }));
			const begin = check.findIndex((text) => text === "begin" || text.startsWith("begin"));
			const relax = check.indexOf(relaxed(dialect));
			t.true(relax >= 0, `${dialect}: the check's transaction is relaxed: ${check.join(" | ")}`);
			t.true(dialect === "sqlite" ? relax < begin : relax > begin, `${dialect}: relaxed ${dialect === "sqlite" ? "before" : "inside"} its transaction`);
			if (dialect === "sqlite") {
				t.is(check.at(-1), "pragma synchronous = full", "sqlite: durable again once the check is in");
			}
			const noted = await during(() => store.noteConfigSequence("dev-a", 4, new Date(2000)));
			t.true(noted.includes(relaxed(dialect)), `${dialect}: noting the config sequence is relaxed too`);
		} finally {
			await store.close();
		}
	}
});

test.serial("a report commits durably: nothing relaxes it, before or inside its transaction", async (t) => {
	for (const [dialect, store] of await stores()) {
		try {
			await store.recordCheck("dev-b", new Date(1000), 10, { product: "thermo", version: "1.0.0" });
			const report = await during(() => store.recordReport({ deviceId: "dev-b", product: "thermo", version: "1.0.0", state: "valid" }, new Date(2000), 10));
			t.true(report.length > 0);
			t.false(report.some((text) => text.includes("synchronous")), `${dialect}: ${report.join(" | ")}`);
		} finally {
			await store.close();
		}
	}
});
