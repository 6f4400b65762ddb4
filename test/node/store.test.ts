// The fleet store (tools/server/store): one suite, run against SQLite (a temp file) and PostgreSQL (a
// throw-away cluster, test/node/lib/postgres.ts), so that both databases are held to the same behaviour.
// Raw SQL, outside the store, checks what is really in the tables (a token's hash and not the token, the
// migrations recorded once, no table lost to an injection).
import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { BUILD_JS } from "./lib/paths.js";
import { startPostgres, type PostgresCluster } from "./lib/postgres.js";
import { openStore, StoreConflict, StoreNotFound, type ConfigDocRow, type DeviceReport, type FleetStore, type ReleaseRow } from "../../tools/server/store/store.js";
import { MIGRATIONS } from "../../tools/server/store/schema.js";

/** Every migration's version, in order: what a store applies at its first open. */
const ALL_VERSIONS = MIGRATIONS.map((migration) => migration.version);

type Dialect = "sqlite" | "postgres";

let cluster: PostgresCluster | undefined;
let databases = 0;

test.before(async () => {
	cluster = await startPostgres();
});
test.after.always(async () => {
	await cluster?.stop();
});

/** Plain SQL on the store's database, from outside the store. */
interface Raw {
	query(text: string, ...params: unknown[]): Promise<any[]>;
	tables(): Promise<string[]>;
	close(): Promise<void>;
}

interface Fixture {
	dialect: Dialect;
	/** SQLite only: the database file. */
	file?: string;
	open(): Promise<FleetStore>;
	raw(): Promise<Raw>;
}

async function fixture(dialect: Dialect, opened: FleetStore[], raws: Raw[]): Promise<Fixture> {
	let options: { url?: string; file?: string };
	let raw: () => Promise<Raw>;
	if (dialect === "sqlite") {
		const file = join(mkdtempSync(join(tmpdir(), "xs-fota-store-")), "nested", "fleet.db");
		options = { file };
		raw = async () => {
			const db = new Database(file);
			return {
				async query(text, ...params) {
					const statement = db.prepare(text);
					return statement.reader ? statement.all(...params) : (statement.run(...params), []);
				},
				async tables() {
					return (db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as { name: string }[]).map((row) => row.name);
				},
				async close() {
					db.close();
				},
			};
		};
	} else {
		const url = await cluster!.createDatabase(`store_${++databases}`);
		options = { url };
		raw = async () => {
			const client = new pg.Client({ connectionString: url });
			await client.connect();
			return {
				async query(text, ...params) {
					// Positional "?" as in SQLite, numbered as PostgreSQL wants them.
					let n = 0;
					return (await client.query(text.replace(/\?/g, () => `$${++n}`), params)).rows;
				},
				async tables() {
					return (await client.query("select tablename from pg_tables where schemaname = 'public' order by tablename")).rows.map((row) => row.tablename);
				},
				async close() {
					await client.end();
				},
			};
		};
	}
	return {
		dialect,
		...(options.file !== undefined ? { file: options.file } : {}),
		async open() {
			const store = await openStore(options);
			opened.push(store);
			return store;
		},
		async raw() {
			const connection = await raw();
			raws.push(connection);
			return connection;
		},
	};
}

/** Registers the test once for each database. */
function both(title: string, body: (t: ExecutionContext, fx: Fixture) => Promise<void>, only?: Dialect) {
	for (const dialect of ["sqlite", "postgres"] as const) {
		if (only !== undefined && dialect !== only)
			continue;
		test(`${dialect}: ${title}`, async (t) => {
			const opened: FleetStore[] = [], raws: Raw[] = [];
			try {
				await body(t, await fixture(dialect, opened, raws));
			} finally {
				for (const raw of raws)
					await raw.close().catch(() => {});
				for (const store of opened)
					await store.close().catch(() => {});
			}
		});
	}
}

const T0 = Date.UTC(2030, 0, 1);
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const isoAt = (seconds: number) => at(seconds).toISOString();

function report(deviceId: string, fields: Partial<DeviceReport> = {}): DeviceReport {
	return { deviceId, product: "thermo", version: "1.0.0", state: "valid", ...fields };
}

function release(product: string, sequence: number, fields: Partial<ReleaseRow> = {}): Omit<ReleaseRow, "publishedAt" | "staged"> & { staged?: boolean } {
	return {
		product, sequence, version: `1.0.${sequence}`, securityVersion: 1, kind: "full",
		imageSha256: "ab".repeat(32), imageSize: 1000 + sequence % 1000, manifest: new Uint8Array([0, 1, 2, sequence & 255, 0xff]),
		...fields,
	};
}

both("a report upserts its device and its history, trimmed to the newest historyLimit", async (t, fx) => {
	const store = await fx.open();
	t.is(store.dialect, fx.dialect);
	t.is(await store.device("dev-a"), undefined);
	const first = await store.recordReport(report("dev-a", { version: "1.0.0", state: "downloading", target: "1.1.0", securityVersion: 3, sequence: 7, slot: 1 }), at(0), 5);
	t.deepEqual(first, {
		deviceId: "dev-a", product: "thermo", version: "1.0.0", state: "downloading",
		securityVersion: 3, sequence: 7, slot: 1, firstSeen: isoAt(0), lastSeen: isoAt(0),
		lastError: null, target: "1.1.0", revoked: false, configSha256: null, config: null, reports: 1, configSequence: null, configSource: null,
	});
	for (let i = 1; i <= 7; i++)
		await store.recordReport(report("dev-a", { version: `1.0.${i}`, state: i % 2 ? "trial" : "valid" }), at(i), 5);
	await store.recordReport(report("dev-b"), at(100), 5);
	const device = await store.device("dev-a");
	t.like(device, { version: "1.0.7", state: "trial", firstSeen: isoAt(0), lastSeen: isoAt(7), reports: 8 });
	// Fields the last report left out are no longer claimed.
	t.like(device, { target: null, securityVersion: null, sequence: null, slot: null });
	const history = await store.history("dev-a");
	t.deepEqual(history.map((row) => row.version), ["1.0.7", "1.0.6", "1.0.5", "1.0.4", "1.0.3"]);
	t.deepEqual(history.map((row) => row.at), [7, 6, 5, 4, 3].map(isoAt));
	t.true(history.every((row, i) => row.deviceId === "dev-a" && (i === 0 || row.id < history[i - 1]!.id)));
	t.deepEqual(history[0], { id: history[0]!.id, deviceId: "dev-a", at: isoAt(7), state: "trial", version: "1.0.7", target: null, error: null });
	t.deepEqual((await store.history("dev-a", 2)).map((row) => row.version), ["1.0.7", "1.0.6"]);
	t.deepEqual(await store.history("never-seen"), []);
	// Trimming one device's history leaves the others'.
	t.is((await store.history("dev-b")).length, 1);
	const raw = await fx.raw();
	t.deepEqual((await raw.query("select count(*) as n from reports")).map((row) => Number(row.n)), [6]);
	// A smaller limit later trims further.
	await store.recordReport(report("dev-a", { version: "1.0.8" }), at(8), 2);
	t.deepEqual((await store.history("dev-a")).map((row) => row.version), ["1.0.8", "1.0.7"]);
});

both("the last error is kept while the state is not valid, replaced by a new one and cleared by valid; the config is kept until a new one", async (t, fx) => {
	const store = await fx.open();
	const config = { sha256: "11".repeat(32), fields: { server: "https://fota.example", interval: 3600, verbose: false } };
	t.like(await store.recordReport(report("d", { state: "trial", error: "hash mismatch", config }), at(0), 10),
		{ lastError: "hash mismatch", configSha256: config.sha256, config: config.fields });
	t.like(await store.recordReport(report("d", { state: "downloading" }), at(1), 10), { lastError: "hash mismatch", configSha256: config.sha256, config: config.fields });
	t.like(await store.recordReport(report("d", { state: "failed", error: "timeout" }), at(2), 10), { lastError: "timeout" });
	t.like(await store.recordReport(report("d", { state: "rolled-back" }), at(3), 10), { lastError: "timeout" });
	t.like(await store.recordReport(report("d", { state: "valid" }), at(4), 10), { lastError: null });
	t.like(await store.recordReport(report("d", { state: "failed" }), at(5), 10), { lastError: null });
	const other = { sha256: "22".repeat(32), fields: { server: "https://other.example" } };
	t.like(await store.recordReport(report("d", { state: "valid", config: other }), at(6), 10), { configSha256: other.sha256, config: other.fields });
	// The history keeps each report's own error.
	t.deepEqual((await store.history("d")).map((row) => row.error), [null, null, null, null, "timeout", null, "hash mismatch"]);
});

both("devices are listed in deviceId order, filtered by product, version and state, with limit and offset", async (t, fx) => {
	const store = await fx.open();
	const fleet = [
		["dev-05", "thermo", "1.0.0", "valid"], ["dev-01", "thermo", "1.1.0", "valid"], ["dev-03", "lamp", "1.1.0", "trial"],
		["dev-02", "thermo", "1.1.0", "failed"], ["dev-04", "lamp", "2.0.0", "valid"], ["dev-06", "thermo", "1.1.0", "valid"],
	] as const;
	for (const [i, [deviceId, product, version, state]] of fleet.entries())
		await store.recordReport({ deviceId, product, version, state }, at(i), 10);
	const ids = (rows: { deviceId: string }[]) => rows.map((row) => row.deviceId);
	t.deepEqual(ids(await store.devices()), ["dev-01", "dev-02", "dev-03", "dev-04", "dev-05", "dev-06"]);
	t.deepEqual(ids(await store.devices({ product: "thermo" })), ["dev-01", "dev-02", "dev-05", "dev-06"]);
	t.deepEqual(ids(await store.devices({ version: "1.1.0" })), ["dev-01", "dev-02", "dev-03", "dev-06"]);
	t.deepEqual(ids(await store.devices({ state: "valid" })), ["dev-01", "dev-04", "dev-05", "dev-06"]);
	t.deepEqual(ids(await store.devices({ product: "thermo", version: "1.1.0", state: "valid" })), ["dev-01", "dev-06"]);
	t.deepEqual(ids(await store.devices({ product: "nothing" })), []);
	t.deepEqual(ids(await store.devices({ limit: 2 })), ["dev-01", "dev-02"]);
	t.deepEqual(ids(await store.devices({ limit: 2, offset: 2 })), ["dev-03", "dev-04"]);
	t.deepEqual(ids(await store.devices({ offset: 4 })), ["dev-05", "dev-06"]);
	t.deepEqual(ids(await store.devices({ product: "thermo", limit: 1, offset: 1 })), ["dev-02"]);
	t.deepEqual(ids(await store.devices({ limit: 0 })), []);
	t.like((await store.devices({ product: "lamp", state: "trial" }))[0], { deviceId: "dev-03", version: "1.1.0", lastSeen: isoAt(2), reports: 1 });
});

both("revoke puts a device on the deny list, seen or not, once", async (t, fx) => {
	const store = await fx.open();
	await store.recordReport(report("seen"), at(0), 10);
	t.false(await store.isRevoked("seen"));
	t.false(await store.isRevoked("stranger"));
	await store.revoke("stranger", at(1));
	await store.revoke("stranger", at(2));
	t.true(await store.isRevoked("stranger"));
	t.is(await store.device("stranger"), undefined);
	t.false((await store.device("seen"))!.revoked);
	await store.revoke("seen", at(3));
	t.true(await store.isRevoked("seen"));
	t.true((await store.device("seen"))!.revoked);
	// A revoked device that reports is still recorded, and still shown revoked.
	t.like(await store.recordReport(report("stranger"), at(4), 10), { deviceId: "stranger", revoked: true });
	t.deepEqual((await store.devices()).map((row) => [row.deviceId, row.revoked]), [["seen", true], ["stranger", true]]);
	const raw = await fx.raw();
	t.deepEqual((await raw.query("select device_id, revoked_at from revocations order by device_id")).map((row) => [row.device_id, Number(row.revoked_at)]),
		[["seen", at(3).getTime()], ["stranger", at(1).getTime()]]);
});

both("products are added once; keys need their product and a key id new to it", async (t, fx) => {
	const store = await fx.open();
	t.deepEqual(await store.products(), []);
	await store.addProduct("thermo", at(0));
	await store.addProduct("lamp", at(1));
	await store.addProduct("thermo", at(2));
	t.deepEqual(await store.products(), ["lamp", "thermo"]);
	const keyA = "a1".repeat(32), keyB = "b2".repeat(32);
	await store.addKey("thermo", "key-b", keyB);
	await store.addKey("thermo", "key-a", keyA);
	await t.throwsAsync(store.addKey("thermo", "key-a", keyB), { instanceOf: StoreConflict });
	await t.throwsAsync(store.addKey("ghost", "key-a", keyA), { instanceOf: StoreNotFound });
	t.deepEqual(await store.products(), ["lamp", "thermo"]);
	// A key id is unique within its product; another product may hold the same key.
	await store.addKey("lamp", "key-a", keyA);
	t.deepEqual(await store.keys("thermo"), [{ product: "thermo", keyId: "key-a", publicKey: keyA, role: "firmware" }, { product: "thermo", keyId: "key-b", publicKey: keyB, role: "firmware" }]);
	t.deepEqual(await store.keys("lamp"), [{ product: "lamp", keyId: "key-a", publicKey: keyA, role: "firmware" }]);
	t.deepEqual(await store.keys("ghost"), []);
});

both("a release needs a sequence above the product's latest; an equal or lower one is refused and changes nothing", async (t, fx) => {
	const store = await fx.open();
	await store.addProduct("thermo", at(0));
	await store.addProduct("lamp", at(0));
	t.is(await store.latestRelease("thermo"), undefined);
	t.deepEqual(await store.releases("thermo"), []);
	const first = await store.addRelease(release("thermo", 3), at(10));
	t.deepEqual(first, { ...release("thermo", 3), publishedAt: isoAt(10), staged: false });
	t.true(first.manifest instanceof Uint8Array);
	await store.addRelease(release("thermo", 5, { kind: "delta" }), at(11));
	await store.addRelease(release("lamp", 1), at(12));
	const before = await store.releases("thermo");
	const equal = await t.throwsAsync(store.addRelease(release("thermo", 5, { version: "other" }), at(13)), { instanceOf: StoreConflict });
	t.regex(equal!.message, /sequence 5/);
	await t.throwsAsync(store.addRelease(release("thermo", 4), at(14)), { instanceOf: StoreConflict });
	await t.throwsAsync(store.addRelease(release("thermo", 1), at(15)), { instanceOf: StoreConflict });
	await t.throwsAsync(store.addRelease(release("ghost", 9), at(16)), { instanceOf: StoreNotFound });
	t.deepEqual(await store.releases("thermo"), before);
	t.deepEqual(before.map((row) => [row.sequence, row.kind, row.publishedAt]), [[5, "delta", isoAt(11)], [3, "full", isoAt(10)]]);
	t.deepEqual(await store.latestRelease("thermo"), { ...release("thermo", 5, { kind: "delta" }), publishedAt: isoAt(11), staged: false });
	t.deepEqual(await store.products(), ["lamp", "thermo"]);
	t.deepEqual(await store.releases("ghost"), []);
	// Each product has its own sequence.
	t.is((await store.latestRelease("lamp"))!.sequence, 1);
	// A staged release is the latest, but not the latest for every device.
	await store.addRelease(release("lamp", 2, { staged: true }), at(12));
	t.like(await store.latestRelease("lamp"), { sequence: 2, staged: true });
	t.like(await store.latestRelease("lamp", { unstaged: true }), { sequence: 1, staged: false });
	await store.addRelease(release("thermo", 6), at(17));
	t.is((await store.latestRelease("thermo"))!.sequence, 6);
	// The manifest is stored byte for byte, NULs and all.
	const manifest = new Uint8Array(70_000).map((_, i) => (i * 31) & 255);
	await store.addRelease(release("thermo", 7, { manifest: manifest.subarray(5) }), at(18));
	t.deepEqual((await store.latestRelease("thermo"))!.manifest, manifest.subarray(5));
});

both("a token is shown once and only its SHA-256 is stored; a wrong or revoked token is refused", async (t, fx) => {
	const store = await fx.open();
	const ci = await store.createToken("ci", at(0));
	const admin = await store.createToken("admin", at(1));
	t.regex(ci.token, /^[A-Za-z0-9_-]{43}$/);
	t.is(Buffer.from(ci.token, "base64url").length, 32);
	t.not(ci.token, admin.token);
	t.not(ci.id, admin.id);
	t.deepEqual(await store.checkToken(ci.token), { id: ci.id, name: "ci" });
	t.deepEqual(await store.checkToken(admin.token), { id: admin.id, name: "admin" });
	const changed = ci.token.slice(0, -1) + (ci.token.endsWith("A") ? "B" : "A");
	t.is(await store.checkToken(changed), undefined);
	t.is(await store.checkToken(""), undefined);
	t.is(await store.checkToken(createHash("sha256").update(ci.token).digest("hex")), undefined);
	const raw = await fx.raw();
	const rows = await raw.query("select * from tokens order by id");
	const dump = JSON.stringify(rows);
	t.false(dump.includes(ci.token));
	t.false(dump.includes(admin.token));
	t.deepEqual(rows.map((row) => [Number(row.id), row.name, row.sha256]), [
		[ci.id, "ci", createHash("sha256").update(ci.token).digest("hex")],
		[admin.id, "admin", createHash("sha256").update(admin.token).digest("hex")],
	]);
	await store.revokeToken(ci.id);
	t.is(await store.checkToken(ci.token), undefined);
	t.deepEqual(await store.checkToken(admin.token), { id: admin.id, name: "admin" });
	// Ids are not reused after a revocation.
	const next = await store.createToken("ci", at(2));
	t.true(next.id > admin.id);
	if (fx.file !== undefined) {
		// Nowhere in the SQLite file either, log included.
		await raw.close();
		await store.close();
		for (const path of [fx.file, `${fx.file}-wal`].filter(existsSync))
			for (const token of [ci.token, admin.token, next.token])
				t.false(readFileSync(path).includes(token), `${token} in ${path}`);
	}
});

both("integers up to 2^53-1 (sequences) and 2^32-1 (security versions) round-trip exactly", async (t, fx) => {
	const store = await fx.open();
	const sequence = Number.MAX_SAFE_INTEGER, securityVersion = 2 ** 32 - 1;
	const row = await store.recordReport(report("big", { sequence, securityVersion, slot: 1 }), at(0), 10);
	t.like(row, { sequence, securityVersion, slot: 1 });
	t.like(await store.device("big"), { sequence, securityVersion });
	t.like((await store.devices())[0], { sequence, securityVersion });
	await store.recordReport(report("big", { sequence: sequence - 1, securityVersion: 2 ** 31 }), at(1), 10);
	t.like(await store.device("big"), { sequence: sequence - 1, securityVersion: 2 ** 31 });
	await store.addProduct("p", at(0));
	await store.addRelease(release("p", 2 ** 31), at(0));
	await store.addRelease(release("p", sequence - 1, { securityVersion: securityVersion - 1, imageSize: 2 ** 40 + 1 }), at(1));
	const latest = await store.addRelease(release("p", sequence, { securityVersion }), at(2));
	t.like(latest, { sequence, securityVersion });
	t.deepEqual((await store.releases("p")).map((row) => [row.sequence, row.securityVersion, row.imageSize]),
		[[sequence, securityVersion, 1000 + sequence % 1000], [sequence - 1, securityVersion - 1, 2 ** 40 + 1], [2 ** 31, 1, 1000 + 2 ** 31 % 1000]]);
	await t.throwsAsync(store.addRelease(release("p", sequence - 1), at(3)), { instanceOf: StoreConflict });
	// A number beyond 2^53 would not come back as it went in: it is refused, and nothing is written.
	await t.throwsAsync(store.addRelease(release("p", sequence + 2), at(4)), { instanceOf: RangeError });
	await t.throwsAsync(store.addRelease(release("q", 1, { imageSize: 2 ** 53 }), at(4)), { instanceOf: RangeError });
	await t.throwsAsync(store.recordReport(report("big", { sequence: 2 ** 60 }), at(5), 10), { instanceOf: RangeError });
	await t.throwsAsync(store.recordReport(report("big", { slot: 1.5 }), at(5), 10), { instanceOf: RangeError });
	t.like(await store.device("big"), { sequence: sequence - 1, reports: 2 });
	t.like(await store.latestRelease("p"), { sequence, securityVersion });
	// Really stored as integers: an exact comparison in SQL finds them.
	const raw = await fx.raw();
	t.is((await raw.query("select sequence from releases where sequence = 9007199254740991 and security_version = 4294967295")).length, 1);
	t.is((await raw.query("select device_id from devices where sequence = 9007199254740990")).length, 1);
});

const NASTY = [
	"'; DROP TABLE devices; --",
	"\"); DELETE FROM reports; --",
	"Robert'); DROP TABLE releases;--",
	"back\\slash \\' \\\" \\\\",
	"100% _match_ [a-z]* $1 ? :name @p",
	"ünïcødé ✓ 🚀 中文 \u202e\u200b",
	"tab\tnew\nline\r\n",
	"' OR '1'='1",
];

both("SQL metacharacters in every text field are stored and read back verbatim, and no table is lost", async (t, fx) => {
	const store = await fx.open();
	const raw = await fx.raw();
	const tablesBefore = await raw.tables();
	t.true(tablesBefore.includes("devices"));
	for (const [i, text] of NASTY.entries()) {
		const device = `${text}#${i}`;
		const config = { sha256: text, fields: { [text]: text, plain: i, flag: true } };
		const row = await store.recordReport({ deviceId: device, product: text, version: text, state: text, error: text, target: text, config }, at(i), 10);
		t.like(row, { deviceId: device, product: text, version: text, state: text, lastError: text, target: text, configSha256: text, config: config.fields });
		t.like(await store.device(device), { deviceId: device, product: text, lastError: text, config: config.fields });
		t.deepEqual((await store.history(device)).map((row) => [row.deviceId, row.state, row.version, row.target, row.error]), [[device, text, text, text, text]]);
		t.deepEqual((await store.devices({ product: text, version: text, state: text })).map((row) => row.deviceId), [device]);
		await store.revoke(device, at(i));
		t.true(await store.isRevoked(device));
		t.false(await store.isRevoked(`${text}#x`));
		await store.addProduct(text, at(i));
		await store.addKey(text, text, text);
		t.deepEqual(await store.keys(text), [{ product: text, keyId: text, publicKey: text, role: "firmware" }]);
		const added = await store.addRelease(release(text, 1, { version: text, kind: text, imageSha256: text }), at(i));
		t.deepEqual(await store.latestRelease(text), added);
		t.like(added, { product: text, version: text, kind: text, imageSha256: text });
		const token = await store.createToken(text, at(i));
		t.deepEqual(await store.checkToken(token.token), { id: token.id, name: text });
	}
	// "%" and "_" are not wildcards: no filter matches what it should not.
	t.deepEqual(await store.devices({ product: "%" }), []);
	t.deepEqual(await store.devices({ product: "_" }), []);
	t.deepEqual((await store.products()).sort(), [...NASTY].sort());
	t.is((await store.devices()).length, NASTY.length);
	t.deepEqual(await raw.tables(), tablesBefore);
	t.is(Number((await raw.query("select count(*) as n from reports"))[0].n), NASTY.length);
	// The stored bytes are the text itself, not an escaped form of it.
	t.deepEqual((await raw.query("select last_error from devices where device_id = ?", `${NASTY[0]}#0`)).map((row) => row.last_error), [NASTY[0]]);
});

both("migrations are recorded once; opening again changes nothing; a newer schema is refused", async (t, fx) => {
	const store = await fx.open();
	await store.recordReport(report("d"), at(0), 10);
	await store.close();
	const again = await fx.open();
	t.like(await again.device("d"), { reports: 1 });
	const raw = await fx.raw();
	const versions = (await raw.query("select version from schema_migrations order by version")).map((row) => Number(row.version));
	t.deepEqual(versions, ALL_VERSIONS);
	t.deepEqual(await raw.tables(), ["config_docs", "config_failures", "config_history", "device_configs", "devices", "gateway_cursors", "gateway_devices", "keys", "products", "releases", "reports", "revocations", "rollout_devices", "rollout_events", "rollouts", "schema_migrations", "tokens"]);
	await again.close();
	await raw.query("insert into schema_migrations (version, applied_at) values (999, 0)");
	await t.throwsAsync(fx.open(), { message: /schema version 999/ });
});

both("rollouts: one unfinished per product, state changes only from the state read, offers once per device", async (t, fx) => {
	const store = await fx.open();
	await store.addProduct("thermo", at(0));
	const spec = { stages: [0.5, 1], seed: "x" };
	const fields = { product: "thermo", sequence: 2, version: "2.0.0", state: "running", cause: "started", spec, startAt: null, opened: 0, openedAt: [1000] };
	const made = await store.createRollout(fields, at(1));
	t.like(made, { product: "thermo", state: "running", opened: 0, openedAt: [1000], spec, createdAt: at(1).getTime() });
	await t.throwsAsync(store.createRollout(fields, at(2)), { instanceOf: StoreConflict, message: /rollout \d+ of "thermo" is running/ });
	await t.throwsAsync(store.createRollout({ ...fields, product: "ghost" }, at(2)), { instanceOf: StoreNotFound });
	// two servers judge at once: the first change applies, the second finds the rollout changed
	const change = { state: "halted", opened: 0, openedAt: [1000], cause: "halted: 3 of 10 failed" };
	const both = await Promise.all([store.changeRollout(made.id, { state: "running", opened: 0 }, change, at(3)), store.changeRollout(made.id, { state: "running", opened: 0 }, { ...change, state: "running", opened: 1, openedAt: [1000, 3000], cause: "stage 2 opened" }, at(3))]);
	t.deepEqual(both.filter(Boolean).length, 1);
	t.deepEqual((await store.rolloutEvents(made.id)).length, 2);
	t.true(await store.offer(made.id, "d1", 0, at(4)));
	t.false(await store.offer(made.id, "d1", 1, at(5)), "offered once");
	await store.settleOffer(made.id, "d1", "failed", "selftest-failed", at(6));
	t.deepEqual(await store.offersTo("d1"), [{ rollout: made.id, deviceId: "d1", stage: 0, status: "failed", reason: "selftest-failed", offeredAt: at(4).getTime(), updatedAt: at(6).getTime() }]);
	t.true(await store.changeRollout(made.id, { state: (await store.rollout(made.id))!.state, opened: (await store.rollout(made.id))!.opened }, { state: "aborted", opened: 0, openedAt: [1000], cause: "aborted", spec: { ...spec, seed: "y" } }, at(7)));
	t.like(await store.rollout(made.id), { state: "aborted", spec: { seed: "y" }, updatedAt: at(7).getTime() });
	t.like(await store.createRollout({ ...fields, sequence: 3 }, at(8)), { sequence: 3 }, "a new rollout once the last is over");
	t.deepEqual((await store.rollouts("thermo")).map((rollout) => rollout.sequence), [3, 2]);
});

both("a database of schema 1 moves to the newest schema at open, its releases kept and still served to every device", async (t, fx) => {
	const made = await fx.open();
	await made.close();
	// back to schema 1, as a server of the previous version left it, with a release
	const raw = await fx.raw();
	for (const statement of ["drop table config_failures", "drop table config_history", "drop table device_configs", "drop table config_docs",
		"alter table keys drop column role", "alter table rollouts drop column kind", "delete from schema_migrations where version = 3",
		"drop table rollout_devices", "drop table rollout_events", "drop table rollouts", "alter table releases drop column staged",
		"delete from schema_migrations where version = 2"])
		await raw.query(statement);
	await raw.query("insert into products (name, created_at) values (?, ?)", "thermo", 0);
	await raw.query("insert into releases (product, sequence, version, security_version, kind, image_sha256, image_size, manifest, published_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"thermo", 4, "1.0.4", 1, "full", "ab".repeat(32), 1000, Buffer.from([1, 2, 3]), 5);
	const store = await fx.open();
	t.like(await store.latestRelease("thermo", { unstaged: true }), { sequence: 4, version: "1.0.4", staged: false });
	t.deepEqual((await raw.query("select version from schema_migrations order by version")).map((row) => Number(row.version)), ALL_VERSIONS);
	t.deepEqual(await store.rollouts(), []);
});

both("a database of schema 2 moves to 3 at open: its keys sign firmware, its rollouts give releases, no config yet", async (t, fx) => {
	const made = await fx.open();
	await made.addProduct("thermo", at(0));
	await made.addKey("thermo", "key-a", "aa".repeat(32));
	await made.createRollout({ product: "thermo", sequence: 2, version: "2.0.0", state: "running", cause: "started", spec: {}, startAt: null, opened: 0, openedAt: [0] }, at(1));
	await made.recordReport(report("d1", { config: { sha256: "cc".repeat(32), fields: { a: 1 } } }), at(2), 10);
	await made.close();
	// back to schema 2, as a server of the previous version left it
	const raw = await fx.raw();
	for (const statement of ["drop table config_failures", "drop table config_history", "drop table device_configs", "drop table config_docs",
		"alter table keys drop column role", "alter table rollouts drop column kind", "delete from schema_migrations where version = 3"])
		await raw.query(statement);
	await raw.query("insert into keys (product, key_id, public_key) values (?, ?, ?)", "thermo", "key-b", "bb".repeat(32));
	const store = await fx.open();
	t.deepEqual((await store.keys("thermo")).map((key) => [key.keyId, key.role]), [["key-a", "firmware"], ["key-b", "firmware"]]);
	t.like((await store.rollouts("thermo"))[0], { kind: "release", state: "running" });
	t.like(await store.device("d1"), { configSha256: "cc".repeat(32), configSequence: null, configSource: null });
	t.deepEqual(await store.configDocs("thermo"), []);
	t.is(await store.deviceConfig("d1"), undefined);
	// and the new tables work on the upgraded database
	await store.addKey("thermo", "key-c", "cc".repeat(32), "config");
	t.like((await store.keys("thermo")).find((key) => key.keyId === "key-c"), { role: "config" });
	await store.addConfigDoc({ product: "thermo", sequence: 1, devices: null, staged: false, bytes: new Uint8Array([1, 2, 3]), sha256: "dd".repeat(32), createdBy: null }, at(3));
	t.is((await store.configDocs("thermo")).length, 1);
});

both("config documents, each device's config, its history, failures and last known good config", async (t, fx) => {
	const store = await fx.open();
	await store.addProduct("thermo", at(0));
	// a key has one role: the same id cannot be added again as a config key
	await store.addKey("thermo", "key-a", "aa".repeat(32));
	await t.throwsAsync(store.addKey("thermo", "key-a", "aa".repeat(32), "config"), { instanceOf: StoreConflict });
	const doc = (sequence: number, fields: Partial<ConfigDocRow> = {}) => ({
		product: "thermo", sequence, devices: null, staged: false, bytes: new Uint8Array([0x58, sequence, 0, 0xff]), sha256: sequence.toString(16).padStart(64, "0"), createdBy: "ci", ...fields,
	});
	t.like(await store.addConfigDoc(doc(1), at(1)), { sequence: 1, createdAt: isoAt(1) });
	await store.addConfigDoc(doc(3, { devices: ["d1", "d2"], staged: true }), at(2));
	await t.throwsAsync(store.addConfigDoc(doc(3), at(3)), { instanceOf: StoreConflict, message: /sequence 3 of "thermo" exists/ });
	await t.throwsAsync(store.addConfigDoc({ ...doc(4), product: "ghost" }, at(3)), { instanceOf: StoreNotFound });
	const docs = await store.configDocs("thermo");
	t.deepEqual(docs.map((row) => [row.sequence, row.devices, row.staged]), [[3, ["d1", "d2"], true], [1, null, false]]);
	t.deepEqual(docs[1]!.bytes, new Uint8Array([0x58, 1, 0, 0xff]), "the bytes exactly");
	t.true(docs[1]!.bytes instanceof Uint8Array && !Buffer.isBuffer(docs[1]!.bytes));
	t.deepEqual((await store.configDocs("thermo", 1)).map((row) => row.sequence), [3]);
	// the sequence a device names in its manifest requests
	await store.noteConfigSequence("d1", 0, at(4));
	t.like(await store.deviceConfig("d1"), { sequence: 0, source: null, lastKnownGood: null, lost: [] });
	const config = (sequence: number, source = "working", lost?: string[]) => ({ sha256: `${sequence}`.padStart(64, "a"), fields: { pollSeconds: sequence }, sequence, source, ...(lost ? { lost } : {}) });
	await store.recordReport(report("d1", { state: "config-trying", configTarget: 1, config: config(0) }), at(5), 3);
	await store.recordReport(report("d1", { state: "config-valid", configTarget: 1, config: config(1) }), at(6), 3);
	t.like(await store.deviceConfig("d1"), { sequence: 1, source: "working", lastKnownGood: { sequence: 1, sha256: config(1).sha256, fields: { pollSeconds: 1 }, at: isoAt(6) } });
	t.like(await store.device("d1"), { configSequence: 1, configSource: "working", configSha256: config(1).sha256 });
	// an unchanged config adds no history entry; a failed document is remembered with its reason
	await store.recordReport(report("d1", { config: config(1) }), at(7), 3);
	await store.recordReport(report("d1", { state: "config-rolled-back", configTarget: 3, error: "config-selftest-failed: app", config: config(1) }), at(8), 3);
	await store.recordReport(report("d1", { state: "config-rejected", configTarget: 4, error: "replay" }), at(9), 3);
	t.deepEqual(await store.configFailures("d1"), [
		{ sequence: 3, state: "config-rolled-back", reason: "config-selftest-failed: app", at: isoAt(8) },
		{ sequence: 4, state: "config-rejected", reason: "replay", at: isoAt(9) },
	]);
	const history = await store.configHistory("d1");
	t.deepEqual(history.map((row) => [row.state, row.sequence, row.target, row.error]), [
		["config-rejected", 1, 4, "replay"], ["config-rolled-back", 1, 3, "config-selftest-failed: app"], ["config-valid", 1, 1, null],
	], "trimmed to the newest 3");
	// lost copies: the factory config, and the last known good one kept
	await store.recordReport(report("d1", { config: config(0, "factory", ["working-0", "working-1"]) }), at(10), 3);
	t.like(await store.deviceConfig("d1"), { sequence: 0, source: "factory", lost: ["working-0", "working-1"], lastKnownGood: { sequence: 1 } });
	t.like((await store.configHistory("d1", 1))[0], { state: "config", source: "factory", error: "lost: working-0, working-1" });
	// a config-valid that says it runs another config keeps the document as good, without a digest it cannot vouch for
	await store.recordReport(report("d2", { state: "config-valid", configTarget: 5, config: config(4) }), at(11), 3);
	t.like(await store.deviceConfig("d2"), { sequence: 4, lastKnownGood: { sequence: 5, sha256: null, fields: null } });
	t.is(await store.deviceConfig("nobody"), undefined);
	t.deepEqual(await store.configHistory("nobody"), []);
});

both("servers opening one database at once apply the migrations once, and publish each sequence once", async (t, fx) => {
	const stores = await Promise.all([fx.open(), fx.open(), fx.open(), fx.open()]);
	const raw = await fx.raw();
	t.deepEqual((await raw.query("select version from schema_migrations order by version")).map((row) => Number(row.version)), ALL_VERSIONS);
	await stores[0]!.addProduct("thermo", at(0));
	// Every server tries every sequence, all at once: each is published once and the rest are refused.
	const outcomes = await Promise.all(stores.flatMap((store, s) => Array.from({ length: 10 }, async (_, i) => {
		try {
			await store.addRelease(release("thermo", i + 1, { kind: `server-${s}` }), at(i));
			return "added";
		} catch (error) {
			if (error instanceof StoreConflict)
				return "conflict";
			throw error;
		}
	})));
	t.true(outcomes.filter((outcome) => outcome === "added").length <= 10);
	const published = await stores[1]!.releases("thermo");
	t.is(published.length, outcomes.filter((outcome) => outcome === "added").length);
	// Whatever got in, got in in order: newest first is strictly decreasing, and the highest sequence made it.
	t.true(published.every((row, i) => i === 0 || row.sequence < published[i - 1]!.sequence));
	t.is(published[0]!.sequence, 10);
	// Reports from several servers for one device are all counted.
	await Promise.all(stores.flatMap((store, s) => Array.from({ length: 5 }, (_, i) => store.recordReport(report("shared", { version: `${s}.${i}` }), at(s * 10 + i), 100))));
	t.like(await stores[2]!.device("shared"), { reports: 20 });
	t.is((await stores[3]!.history("shared")).length, 20);
}, "postgres");

both("a reopened SQLite file has everything, in WAL mode", async (t, fx) => {
	const store = await fx.open();
	await store.recordReport(report("d1", { state: "trial", error: "boom", sequence: 4, config: { sha256: "cc", fields: { a: "b" } } }), at(0), 3);
	await store.recordReport(report("d2"), at(1), 3);
	await store.revoke("d3", at(2));
	await store.addProduct("thermo", at(3));
	await store.addKey("thermo", "k1", "aa".repeat(32));
	await store.addRelease(release("thermo", 9), at(4));
	const token = await store.createToken("ci", at(5));
	const snapshot = async (s: FleetStore) => ({
		devices: await s.devices(), history: await s.history("d1"), revoked: await s.isRevoked("d3"), products: await s.products(),
		keys: await s.keys("thermo"), releases: await s.releases("thermo"), token: await s.checkToken(token.token),
	});
	const before = await snapshot(store);
	await store.close();
	const reopened = await fx.open();
	t.deepEqual(await snapshot(reopened), before);
	t.true(before.revoked);
	t.deepEqual(before.token, { id: token.id, name: "ci" });
	const raw = await fx.raw();
	t.deepEqual(await raw.query("pragma journal_mode"), [{ journal_mode: "wal" }]);
}, "sqlite");

both("a report that resolved survives a SIGKILL of the process", async (t, fx) => {
	// A child process records reports as fast as it can and says which ones resolved; it is killed mid-stream.
	const child = spawn(process.execPath, ["--input-type=module", "-e", `
		const { openStore } = await import(process.env.STORE_MODULE);
		const store = await openStore({ file: process.env.STORE_FILE });
		for (let i = 0; ; i++) {
			await store.recordReport({ deviceId: "d" + (i % 7), product: "p", version: "v" + i, state: "valid" }, new Date(${T0} + i), 1000);
			process.stdout.write(i + "\\n");
		}
	`], {
		env: { ...process.env, STORE_FILE: fx.file, STORE_MODULE: pathToFileURL(join(BUILD_JS, "tools/server/store/store.js")).href },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let stderr = "";
	child.stderr.on("data", (chunk) => stderr += chunk);
	const resolved = await new Promise<number>((resolve, reject) => {
		let buffer = "", last = -1;
		child.stdout.on("data", (chunk) => {
			buffer += chunk;
			const lines = buffer.split("\n");
			buffer = lines.pop()!;
			if (lines.length > 0)
				last = Number(lines.at(-1));
			if (last >= 300 && !child.killed)
				child.kill("SIGKILL");
		});
		child.on("exit", (code, signal) => signal === "SIGKILL" ? resolve(last) : reject(new Error(`child exited ${code}: ${stderr}`)));
	});
	t.true(resolved >= 300);
	const store = await fx.open();
	const versions = new Set<string>();
	for (let d = 0; d < 7; d++)
		for (const row of await store.history(`d${d}`))
			versions.add(row.version);
	for (let i = 0; i <= resolved; i++)
		t.true(versions.has(`v${i}`), `report ${i} was lost`);
	// At most the one in flight when the signal came is there besides.
	t.true(versions.size === resolved + 1 || versions.size === resolved + 2);
	const total = (await store.devices()).reduce((sum, row) => sum + row.reports, 0);
	t.is(total, versions.size);
}, "sqlite");
