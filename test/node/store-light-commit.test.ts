// The fleet store's two kinds of commit, seen in the SQL each database runs: a poll's bookkeeping (recordCheck, with
// the config sequence the device names; noteConfigSequence) and a progress report ("downloading") commit without
// waiting for a disk sync (SQLite: synchronous=NORMAL around that transaction alone, then FULL again; PostgreSQL: SET
// LOCAL synchronous_commit = off inside it), and every other report commits durably (no such statement anywhere near
// it). The statements are caught where the drivers run them (better-sqlite3's statements, pg's Client.query), so
// these tests watch what the real store and server send, not a stand-in. Also: SQLite's statements are prepared once
// per SQL text (./store/connect.ts), and a manifest request's bookkeeping is one transaction.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { startPostgres, type PostgresCluster } from "./lib/postgres.js";
import { call, serve } from "./lib/https-fixture.js";
import { openStore, type FleetStore } from "../../tools/server/store/store.js";
import { CONFIG_HEADER, manifestPath, reportPath } from "../../modules/fota/protocol.js";

const sent: string[] = [];
let prepared = 0;
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (this: Database.Database, source: string) {
	prepared++;
	return prepare.call(this, source);
} as typeof prepare;
// better-sqlite3's Statement class, reached through a statement: every run of a statement goes through these
const statement = Object.getPrototypeOf(prepare.call(new Database(":memory:"), "select 1")) as Record<"run" | "all" | "get", (...args: unknown[]) => unknown>;
for (const method of ["run", "all", "get"] as const) {
	const original = statement[method];
	statement[method] = function (this: { source: string }, ...args: unknown[]) {
		sent.push(this.source);
		return original.apply(this, args);
	};
}
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

test.serial("a progress report ('downloading') commits lightly through the server; an outcome ('activating') durably", async (t) => {
	const served = await serve();
	t.teardown(() => served.close());
	const report = (state: string) => during(async () => {
		const reply = await call(served, "POST", reportPath("dev-r"), { device: "dev-r", json: { product: "demo", version: "1.0.0", state, target: "2.0.0" } });
		t.is(reply.status, 204);
		await served.server.recorded(); // a light report is committed once its 204 is out
	});
	const downloading = await report("downloading");
	t.true(downloading.includes("pragma synchronous = normal"), downloading.join(" | "));
	t.is(downloading.filter((text) => text.startsWith("insert into \"reports\"")).length, 1, "the report is kept");
	const activating = await report("activating");
	t.true(activating.some((text) => text.startsWith("insert into \"reports\"")));
	t.false(activating.some((text) => text.includes("synchronous")), activating.join(" | "));
	t.deepEqual((await served.store.history("dev-r")).map((row) => row.state), ["activating", "downloading"]);
});

test.serial("the config sequence a check names is kept in the check's own light commit, and written only when it changed", async (t) => {
	for (const [dialect, store] of await stores()) {
		try {
			const first = await during(() => store.recordCheck("dev-c", new Date(1000), 10, { product: "thermo", version: "1.0.0" }, 3));
			t.is(first.filter((text) => text === "commit").length, 1, `${dialect}: one transaction: ${first.join(" | ")}`);
			t.true(first.some((text) => text.startsWith("insert into \"device_configs\"")), `${dialect}: noted`);
			t.is((await store.deviceConfig("dev-c"))?.sequence, 3);
			const same = await during(() => store.recordCheck("dev-c", new Date(2000), 10, { product: "thermo", version: "1.0.0" }, 3));
			t.false(same.some((text) => text.startsWith("insert into \"device_configs\"")), `${dialect}: unchanged, not written`);
			await store.recordCheck("dev-c", new Date(3000), 10, { product: "thermo", version: "1.0.0" }, 4);
			t.is((await store.deviceConfig("dev-c"))?.sequence, 4);
			await store.recordCheck("dev-unseen", new Date(3000), 10, undefined, 7);
			t.is((await store.deviceConfig("dev-unseen"))?.sequence, 7, `${dialect}: noted for a device never seen, as before`);
			t.is(await store.device("dev-unseen"), undefined);
		} finally {
			await store.close();
		}
	}
});

test.serial("a manifest request's bookkeeping is one light transaction, with the statements counted", async (t) => {
	const served = await serve(new Uint8Array(1000).fill(7));
	t.teardown(() => served.close());
	const poll = () => call(served, "GET", manifestPath("demo"), { device: "dev-m", headers: { "x-fota-version": "1.0.0", [CONFIG_HEADER]: "0" } });
	t.is((await poll()).status, 200);
	await served.server.recorded(); // the first poll's check, committed a moment after its answer, before the count
	const statements = (await during(async () => {
		t.is((await poll()).status, 200);
		// the check is recorded a moment after the answer is out (tools/server/server.ts #recordCheck): wait for its commit
		for (const end = Date.now() + 5000; !sent.some((text) => /^pragma synchronous = full$/i.test(text.trim())) && Date.now() < end; )
			await new Promise((resolve) => setTimeout(resolve, 5));
	}))
		.filter((text) => !text.startsWith("select * from \"rollouts\"")); // the rollout engine's, once a second
	t.is(statements.filter((text) => text === "begin" || text.startsWith("begin")).length, 1, statements.join(" | "));
	// revoked?; the check's transaction: relax, begin, the device with its newest entry and config sequence, its
	// last-seen time, commit, durable again (the product's release and config documents are kept a moment)
	t.true(statements.length <= 7, `${statements.length} statements: ${statements.join(" | ")}`);
});

test.serial("SQLite: a statement is prepared once per SQL text, and stays right across runs", async (t) => {
	const store = await openStore({ file: join(mkdtempSync(join(tmpdir(), "xs-fota-prepared-")), "fleet.db") });
	try {
		await store.addProduct("thermo", new Date(1));
		await store.recordCheck("dev-p", new Date(1000), 10, { product: "thermo", version: "1.0.0" });
		prepared = 0;
		for (let i = 0; i < 5; i++)
			t.false(await store.isRevoked("dev-p"));
		t.is(prepared, 1, "five runs of one query, one prepare");
		await store.revoke("dev-p", new Date(2000));
		t.true(await store.isRevoked("dev-p"), "the kept statement sees the change");
		t.false(await store.isRevoked("dev-q"), "and takes its new bindings");
	} finally {
		await store.close();
	}
});
