// The fleet store's cache of what every poll asks of its product (tools/server/store/store.ts ProductCache): the
// release served to every device and the newest config document's sequence are read once a moment, and a release or
// a config document added through the store is seen at the very next read; one added by another process sharing the
// database (here, a second store on the same SQLite file) is seen within PRODUCT_CACHE_MS. Revocations are never
// kept. The queries are counted where better-sqlite3 runs them.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openStore, PRODUCT_CACHE_MS, type FleetStore, type ReleaseRow } from "../../tools/server/store/store.js";

const ran: string[] = [];
const statement = Object.getPrototypeOf(new Database(":memory:").prepare("select 1")) as Record<"run" | "all" | "get", (...args: unknown[]) => unknown>;
for (const method of ["run", "all", "get"] as const) {
	const original = statement[method];
	statement[method] = function (this: { source: string }, ...args: unknown[]) {
		ran.push(this.source);
		return original.apply(this, args);
	};
}

async function queries(call: () => Promise<unknown>): Promise<number> {
	ran.length = 0;
	await call();
	return ran.length;
}

function release(sequence: number, staged = false): Omit<ReleaseRow, "publishedAt" | "staged"> & { staged?: boolean } {
	return {
		product: "thermo", sequence, version: `1.0.${sequence}`, securityVersion: 1, kind: "full", imageSha256: "ab".repeat(32),
		imageSize: 1000, manifest: new Uint8Array([sequence]), staged,
	};
}

const doc = (sequence: number) => ({ product: "thermo", sequence, devices: null, staged: false, bytes: new Uint8Array([sequence]), sha256: "dd".repeat(32), createdBy: null });

async function open(file = join(mkdtempSync(join(tmpdir(), "xs-fota-cache-")), "fleet.db")): Promise<{ store: FleetStore; file: string }> {
	const store = await openStore({ file });
	await store.addProduct("thermo", new Date(1));
	return { store, file };
}

test.serial("the baseline release: read once, and a publish through the store is served at the next request", async (t) => {
	const { store } = await open();
	t.teardown(() => store.close());
	t.is(await store.latestRelease("thermo", { unstaged: true }), undefined);
	t.is(await queries(() => store.latestRelease("thermo", { unstaged: true })), 0, "no release is kept too");
	await store.addRelease(release(1), new Date(2));
	t.is((await store.latestRelease("thermo", { unstaged: true }))?.sequence, 1, "published: seen at once");
	t.is(await queries(() => store.latestRelease("thermo", { unstaged: true })), 0);
	await store.addRelease(release(2, true), new Date(3));
	t.is((await store.latestRelease("thermo", { unstaged: true }))?.sequence, 1, "a staged release is not everyone's");
	t.is((await store.latestRelease("thermo"))?.sequence, 2, "the newest of all is read as ever");
	t.true(await queries(() => store.latestRelease("thermo")) > 0, "and not kept");
	await store.addRelease(release(3), new Date(4));
	t.is((await store.latestRelease("thermo", { unstaged: true }))?.sequence, 3);
});

test.serial("the newest config document: a device running it asks nothing; an upload is offered at the next request", async (t) => {
	const { store } = await open();
	t.teardown(() => store.close());
	t.deepEqual(await store.configDocs("thermo", 0), []);
	t.is(await queries(() => store.configDocs("thermo", 0)), 0);
	await store.addConfigDoc(doc(1), new Date(2));
	t.deepEqual((await store.configDocs("thermo", 0)).map((row) => row.sequence), [1], "uploaded: offered at once");
	t.deepEqual(await store.configDocs("thermo", 1), [], "the device that runs it");
	t.is(await queries(() => store.configDocs("thermo", 1)), 0, "asks nothing");
	await store.addConfigDoc(doc(2), new Date(3));
	t.deepEqual((await store.configDocs("thermo", 1)).map((row) => row.sequence), [2]);
	t.deepEqual((await store.configDocs("thermo")).map((row) => row.sequence), [2, 1], "the whole list is read as ever");
});

test.serial("another process's publish and upload are seen within PRODUCT_CACHE_MS; a revocation at once", async (t) => {
	const { store, file } = await open();
	t.teardown(() => store.close());
	const other = await openStore({ file });
	t.teardown(() => other.close());
	await store.recordCheck("dev-1", new Date(2), 10, { product: "thermo", version: "1.0.0" });
	t.is(await store.latestRelease("thermo", { unstaged: true }), undefined);
	t.deepEqual(await store.configDocs("thermo", 0), []);
	const changed = performance.now();
	await other.addRelease(release(1), new Date(3));
	await other.addConfigDoc(doc(1), new Date(3));
	await other.revoke("dev-1", new Date(3));
	t.true(await store.isRevoked("dev-1"), "a revocation is never kept from a request");
	let seen = false;
	while (!seen && performance.now() - changed < PRODUCT_CACHE_MS + 500) {
		seen = (await store.latestRelease("thermo", { unstaged: true }))?.sequence === 1 && (await store.configDocs("thermo", 0)).length === 1;
		if (!seen)
			await new Promise((resolve) => setTimeout(resolve, 50));
	}
	t.true(seen, "seen");
	t.true(performance.now() - changed <= PRODUCT_CACHE_MS + 200, `within ${PRODUCT_CACHE_MS} ms`);
});
