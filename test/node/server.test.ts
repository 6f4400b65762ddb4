// The management server (tools/server/server.ts) over real HTTPS, on SQLite and on PostgreSQL alike (a throw-away
// cluster that the test starts): releases published and checked, devices over mutual TLS, the admin API behind its
// tokens, history, and each attack of issue 10 refused with a clear status and nothing changed in the database.
import test, { type ExecutionContext } from "ava";
import { mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDeviceCa, makeDeviceCertificate } from "../../tools/server/certificates.js";
import { UpdateServer } from "../../tools/server/server.js";
import { openStore, type FleetStore } from "../../tools/server/store/store.js";
import { devCertificates } from "./lib/https-fixture.js";
import { startPostgres, type PostgresCluster } from "./lib/postgres.js";
import { bytes, makeKey, signRelease, type SigningKey } from "./lib/release.js";
import { toHex } from "../../modules/fota/hex.js";

const IMAGE = bytes(40_000, 11);

interface Identity { key: string; cert: string }
const identities = new Map<string, Identity>();
/** A device's key and certificate from the fleet's device CA (cached: openssl takes a moment). */
function device(id: string): Identity {
	let made = identities.get(id);
	if (!made) {
		const { deviceCa } = devCertificates();
		made = makeDeviceCertificate({ caCert: deviceCa.cert, caKey: deviceCa.key, deviceId: id });
		identities.set(id, made);
	}
	return made;
}

let otherCa: { cert: string; key: string } | undefined;
function foreignDevice(id: string): Identity {
	otherCa ??= makeDeviceCa(mkdtempSync(join(tmpdir(), "xs-fota-other-device-ca-")));
	return makeDeviceCertificate({ caCert: otherCa.cert, caKey: otherCa.key, deviceId: id });
}

interface Reply { status: number; body: any; raw: Buffer; headers: Record<string, string | string[] | undefined> }

class Fleet {
	constructor(readonly store: FleetStore, readonly server: UpdateServer, readonly url: string, readonly token: string, readonly vendor: SigningKey) {}
	call(method: string, path: string, options: { identity?: Identity; token?: string; json?: unknown; raw?: string | Buffer; type?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
		const { certs } = devCertificates();
		const body = options.raw ?? (options.json === undefined ? undefined : JSON.stringify(options.json));
		return new Promise((resolve, reject) => {
			const outgoing = request(`${this.url}${path}`, {
				method, ca: readFileSync(certs.ca), agent: false,
				...(options.identity ? { key: options.identity.key, cert: options.identity.cert } : {}),
				headers: {
					...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
					...(body !== undefined ? { "content-type": options.type ?? "application/json" } : {}),
					...options.headers,
				},
			}, (response) => {
				const chunks: Buffer[] = [];
				response.on("data", (chunk: Buffer) => chunks.push(chunk));
				response.on("end", () => {
					const raw = Buffer.concat(chunks);
					let parsed: unknown;
					try {
						parsed = raw.length && /json/.test(String(response.headers["content-type"])) ? JSON.parse(raw.toString("utf8")) : undefined;
					} catch {
						parsed = undefined;
					}
					resolve({ status: response.statusCode ?? 0, body: parsed, raw, headers: response.headers });
				});
			});
			outgoing.on("error", reject);
			outgoing.end(body);
		});
	}
	admin(method: string, path: string, json?: unknown) {
		return this.call(method, `/v1/admin${path}`, { token: this.token, ...(json !== undefined ? { json } : {}) });
	}
	publish(manifest: Uint8Array, image: Uint8Array, product = "demo") {
		return this.admin("POST", `/products/${product}/releases`, { manifest: Buffer.from(manifest).toString("base64"), image: Buffer.from(image).toString("base64") });
	}
	report(id: string, fields: Record<string, unknown>, as = id) {
		return this.call("POST", `/v1/devices/${as}/report`, { identity: device(id), json: { product: "demo", version: "1.0.0", state: "valid", ...fields } });
	}
	/** What the database holds, to show that a refused request changed nothing. */
	async snapshot() {
		const devices = await this.store.devices();
		return { devices, histories: await Promise.all(devices.map((d) => this.store.history(d.deviceId))), releases: await this.store.releases("demo"), keys: await this.store.keys("demo"), products: await this.store.products() };
	}
}

let cluster: PostgresCluster | undefined;
let databases = 0;

async function fleet(dialect: "sqlite" | "postgres", historyLimit = 100): Promise<Fleet> {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-server-"));
	let store: FleetStore;
	if (dialect === "postgres") {
		cluster ??= await startPostgres();
		store = await openStore({ url: await cluster.createDatabase(`fleet_${++databases}`) });
	}
	else
		store = await openStore({ file: join(dir, "fleet.db") });
	const { certs, deviceCa } = devCertificates();
	const server = new UpdateServer({ store, images: join(dir, "images"), cert: readFileSync(certs.cert), key: readFileSync(certs.key), deviceCa: readFileSync(deviceCa.cert), historyLimit });
	const { url } = await server.listen();
	const { token } = await store.createToken("tests", new Date());
	const vendor = makeKey();
	await store.addProduct("demo", new Date());
	await store.addKey("demo", vendor.keyId, toHex(vendor.publicKey));
	return new Fleet(store, server, url, token, vendor);
}

test.after.always(async () => {
	await cluster?.stop();
});

function release(f: Fleet, sequence: number, fields: Record<string, unknown> = {}, key = f.vendor) {
	return signRelease(IMAGE, { product: "demo", version: `1.${sequence}.0`, sequence, securityVersion: 1, url: `firmware-${sequence}.bin`, ...fields } as any, key);
}

async function unchanged(t: ExecutionContext, f: Fleet, before: unknown, what: string) {
	t.deepEqual(await f.snapshot(), before, `${what} changed the database`);
}

for (const dialect of ["sqlite", "postgres"] as const) {
	const serial = (title: string, fn: (t: ExecutionContext, f: Fleet) => Promise<void>) => test.serial(`${dialect}: ${title}`, async (t) => {
		const f = await fleet(dialect);
		try {
			await fn(t, f);
		} finally {
			await f.server.close();
			await f.store.close();
		}
	});

	serial("a published release is offered to devices: the manifest as signed, the image with Range and ETag", async (t, f) => {
		const manifest = release(f, 2);
		const published = await f.publish(manifest, IMAGE);
		t.is(published.status, 201, JSON.stringify(published.body));
		t.like(published.body, { product: "demo", sequence: 2, version: "1.2.0", imageSize: IMAGE.length });
		const served = await f.call("GET", "/v1/products/demo/manifest", { identity: device("dev-1") });
		t.is(served.status, 200);
		t.deepEqual(new Uint8Array(served.raw), manifest);
		const ranged = await f.call("GET", "/v1/products/demo/firmware-2.bin", { identity: device("dev-1"), headers: { range: "bytes=1000-" } });
		t.is(ranged.status, 206);
		t.deepEqual(ranged.raw, Buffer.from(IMAGE.subarray(1000)));
		const etag = String(ranged.headers.etag);
		const stale = await f.call("GET", "/v1/products/demo/firmware-2.bin", { identity: device("dev-1"), headers: { range: "bytes=1000-", "if-range": "\"other\"" } });
		t.is(stale.status, 200, "If-Range with another ETag must send the whole image");
		const same = await f.call("GET", "/v1/products/demo/firmware-2.bin", { identity: device("dev-1"), headers: { range: "bytes=39000-", "if-range": etag } });
		t.is(same.status, 206);
		// a newer release takes over the manifest; the older image stays reachable by its name
		t.is((await f.publish(release(f, 3), IMAGE)).status, 201);
		t.deepEqual(new Uint8Array((await f.call("GET", "/v1/products/demo/manifest", { identity: device("dev-1") })).raw), release(f, 3));
		t.is((await f.admin("GET", "/products/demo/releases")).body.length, 2);
	});

	serial("reports build the device's record and its history, newest first, kept to the limit", async (t, f) => {
		for (const state of ["activating", "rolled-back", "activating", "valid"])
			t.is((await f.report("dev-h", { state, version: state === "valid" ? "2.0.0" : "1.0.0", ...(state === "rolled-back" ? { error: "selftest-failed: x", target: "2.0.0" } : {}) })).status, 204);
		const shown = await f.admin("GET", "/devices/dev-h");
		t.like(shown.body, { deviceId: "dev-h", version: "2.0.0", state: "valid", reports: 4 });
		t.deepEqual(shown.body.history.map((r: any) => r.state), ["valid", "activating", "rolled-back", "activating"]);
		t.is((await f.admin("GET", "/devices?state=valid")).body.length, 1);
		t.is((await f.admin("GET", "/devices?state=rolled-back")).body.length, 0);
		t.is((await f.admin("GET", "/devices?limit=0")).status, 400);
	});

	serial("a device's checks join its history as one \"checked\" entry between reports, and move its last-seen time", async (t, f) => {
		t.is((await f.publish(release(f, 2), IMAGE)).status, 201);
		t.is((await f.call("GET", "/v1/products/demo/manifest", { identity: device("dev-c") })).status, 200);
		t.deepEqual(await f.store.history("dev-c"), [], "a device that never reported got a history");
		t.is((await f.report("dev-c", { state: "valid" })).status, 204);
		const seen = (await f.store.device("dev-c"))!.lastSeen;
		await new Promise((resolve) => setTimeout(resolve, 5));
		for (let i = 0; i < 3; i++)
			t.is((await f.call("GET", "/v1/products/demo/manifest", { identity: device("dev-c") })).status, 200);
		t.is((await f.report("dev-c", { state: "downloading", target: "1.2.0" })).status, 204);
		await f.server.recorded(); // a "downloading" report is committed once its 204 is out
		t.deepEqual((await f.store.history("dev-c")).map((r) => r.state), ["downloading", "checked", "valid"]);
		t.true((await f.store.device("dev-c"))!.lastSeen > seen);
		t.is((await f.store.device("dev-c"))!.state, "downloading", "a check changed the device's state");
	});

	serial("a device without a certificate, or with one from another CA, is refused, and nothing is stored", async (t, f) => {
		t.is((await f.publish(release(f, 2), IMAGE)).status, 201);
		const before = await f.snapshot();
		for (const identity of [undefined, foreignDevice("dev-1")]) {
			const manifest = await f.call("GET", "/v1/products/demo/manifest", identity ? { identity } : {});
			t.is(manifest.status, 401);
			t.is(manifest.body.error, "device-certificate-required");
			const image = await f.call("GET", "/v1/products/demo/firmware-2.bin", identity ? { identity } : {});
			t.is(image.status, 401);
			const report = await f.call("POST", "/v1/devices/dev-1/report", { ...(identity ? { identity } : {}), json: { product: "demo", version: "9", state: "valid" } });
			t.is(report.status, 401);
		}
		await unchanged(t, f, before, "a device without a certificate of the fleet");
	});

	serial("a device reports only as itself: another id in the URL or in the body is refused", async (t, f) => {
		t.is((await f.report("dev-b", {})).status, 204);
		const before = await f.snapshot();
		const asOther = await f.report("dev-a", { version: "6.6.6" }, "dev-b");
		t.is(asOther.status, 403);
		t.is(asOther.body.error, "not-yourself");
		const inBody = await f.report("dev-a", { deviceId: "dev-b", version: "6.6.6" });
		t.is(inBody.status, 403);
		await unchanged(t, f, before, "a report in another device's name");
	});

	serial("a revoked device gets nothing and reports nothing", async (t, f) => {
		t.is((await f.publish(release(f, 2), IMAGE)).status, 201);
		t.is((await f.report("dev-r", {})).status, 204);
		t.is((await f.admin("POST", "/devices/dev-r/revoke")).status, 200);
		const before = await f.snapshot();
		t.is((await f.call("GET", "/v1/products/demo/manifest", { identity: device("dev-r") })).status, 403);
		t.is((await f.call("GET", "/v1/products/demo/firmware-2.bin", { identity: device("dev-r") })).status, 403);
		const report = await f.report("dev-r", { version: "7.0.0" });
		t.is(report.status, 403);
		t.is(report.body.error, "revoked");
		await unchanged(t, f, before, "a revoked device");
		t.is((await f.call("GET", "/v1/products/demo/manifest", { identity: device("dev-1") })).status, 200, "others are not affected");
	});

	serial("the admin API needs a valid token: none, a wrong one, or a device certificate get 401", async (t, f) => {
		const before = await f.snapshot();
		for (const options of [{}, { token: "wrong-token-value" }, { token: "" }, { identity: device("dev-1") }]) {
			for (const [method, path, json] of [["GET", "/devices"], ["POST", "/products", { product: "sneaky" }], ["POST", "/devices/dev-1/revoke"],
				["POST", "/products/demo/releases", { manifest: "AA==", image: "AA==" }]] as const) {
				const answer = await f.call(method, `/v1/admin${path}`, { ...options, ...(json ? { json } : {}) });
				t.is(answer.status, 401, `${method} ${path} with ${JSON.stringify(Object.keys(options))}`);
				t.is(answer.body.error, "unauthorized");
				t.is(answer.headers["www-authenticate"], "Bearer");
			}
		}
		await unchanged(t, f, before, "admin calls without a valid token");
		t.false(await f.store.isRevoked("dev-1"));
	});

	serial("publishing is refused, with its reason, for a forged signature, an image that is not the manifest's, an old sequence, a path in the image name", async (t, f) => {
		t.is((await f.publish(release(f, 5), IMAGE)).status, 201);
		const before = await f.snapshot();
		const forged = Uint8Array.from(release(f, 6));
		forged[forged.length - 1]! ^= 1;
		const refusals: [Uint8Array, Uint8Array, number, string][] = [
			[forged, IMAGE, 422, "manifest"],
			[release(f, 6, {}, makeKey()), IMAGE, 422, "manifest"],
			[release(f, 6), IMAGE.subarray(1), 422, "size-mismatch"],
			[release(f, 6), Uint8Array.from(IMAGE, (b, i) => (i === 7 ? b ^ 1 : b)), 422, "digest-mismatch"],
			[release(f, 5), IMAGE, 409, "stale-sequence"],
			[release(f, 4), IMAGE, 409, "stale-sequence"],
			[release(f, 6, { url: "../../etc/passwd" }), IMAGE, 422, "bad-image-url"],
			[release(f, 6, { product: "other" }), IMAGE, 422, "wrong-product"],
		];
		for (const [manifest, image, status, error] of refusals) {
			const answer = await f.publish(manifest, image);
			t.is(answer.status, status, JSON.stringify(answer.body));
			t.is(answer.body.error, error);
			t.truthy(answer.body.detail);
		}
		t.regex((await f.publish(forged, IMAGE)).body.detail, /^bad-signature/);
		t.is((await f.publish(release(f, 6), IMAGE, "nowhere")).status, 404);
		await unchanged(t, f, before, "a refused release");
	});

	serial("path traversal in a file name reaches nothing", async (t, f) => {
		t.is((await f.publish(release(f, 2), IMAGE)).status, 201);
		for (const path of ["/v1/products/demo/..%2F..%2Fetc%2Fpasswd", "/v1/products/demo/%2e%2e", "/v1/products/..%2Fdemo/manifest", "/v1/products/demo/firmware-2.bin%00", "/v1/products/demo/sub/firmware-2.bin"]) {
			const answer = await f.call("GET", path, { identity: device("dev-1") });
			t.is(answer.status, 404, path);
			t.false(answer.raw.includes("root:"), path);
		}
		t.is((await f.admin("POST", "/products", { product: "../etc" })).status, 400);
		t.is((await f.admin("GET", "/devices/..%2F..")).status, 400);
	});

	serial("SQL metacharacters in every text field are stored as they came, and every table survives", async (t, f) => {
		const evil = `1'; DROP TABLE devices; -- "\\ \`x\` %_ ü ☃`;
		const fields = { version: evil.slice(0, 100), error: `${evil} error`, target: `${evil}`.slice(0, 120), config: { sha256: "a".repeat(64), fields: { note: evil, "x": 1 } } };
		t.is((await f.report("dev-sql", { state: "rolled-back", ...fields })).status, 204);
		const shown = (await f.admin("GET", "/devices/dev-sql")).body;
		t.like(shown, { version: fields.version, lastError: fields.error, target: fields.target, configSha256: "a".repeat(64) });
		t.deepEqual(shown.config, { note: evil, x: 1 });
		t.is((await f.admin("GET", `/devices?version=${encodeURIComponent(fields.version)}`)).body.length, 1);
		t.is((await f.admin("GET", `/devices?product=${encodeURIComponent("demo' OR '1'='1")}`)).body.length, 0);
		t.is((await f.admin("POST", "/products", { product: "a'b" })).status, 400);
		t.is((await f.store.devices()).length, 1, "the devices table is gone or was altered");
		t.is((await f.store.products()).length, 1);
	});

	serial("oversized, malformed and mistyped bodies are refused with a clear status, and nothing is stored", async (t, f) => {
		const before = await f.snapshot();
		const id = device("dev-big");
		const big = await f.call("POST", "/v1/devices/dev-big/report", { identity: id, raw: JSON.stringify({ product: "demo", version: "1", state: "valid", error: "e".repeat(5000) }) });
		t.is(big.status, 413);
		t.is((await f.call("POST", "/v1/devices/dev-big/report", { identity: id, raw: "{\"product\": \"demo\"," })).status, 400);
		t.is((await f.call("POST", "/v1/devices/dev-big/report", { identity: id, raw: "[1,2,3]" })).status, 400);
		t.is((await f.call("POST", "/v1/devices/dev-big/report", { identity: id, raw: "{}", type: "text/plain" })).status, 415);
		t.is((await f.report("dev-big", { state: "bogus" })).status, 400);
		t.is((await f.report("dev-big", { sequence: -1 })).status, 400);
		t.is((await f.report("dev-big", { sequence: 2 ** 53 })).status, 400);
		t.is((await f.report("dev-big", { extra: 1 })).status, 400);
		t.is((await f.call("POST", "/v1/admin/products", { token: f.token, raw: "x".repeat(70 * 1024) })).status, 413);
		t.is((await f.admin("POST", "/products/demo/releases", { manifest: "not base64!", image: "AA==" })).status, 400);
		t.is((await f.admin("POST", "/products/demo/keys", { publicKey: "zz" })).status, 400);
		t.is((await f.admin("POST", "/products/demo/keys", { publicKey: "ab".repeat(32), keyId: "0000000000000000" })).status, 400);
		await unchanged(t, f, before, "a refused body");
	});
}

test.serial("the history is kept to the configured number of reports per device", async (t) => {
	const f = await fleet("sqlite", 3);
	try {
		for (let i = 0; i < 6; i++)
			t.is((await f.report("dev-l", { version: `1.0.${i}` })).status, 204);
		const history = (await f.admin("GET", "/devices/dev-l")).body.history;
		t.deepEqual(history.map((r: any) => r.version), ["1.0.5", "1.0.4", "1.0.3"]);
		t.is((await f.store.device("dev-l"))!.reports, 6);
	} finally {
		await f.server.close();
		await f.store.close();
	}
});

test.serial("downloads over the limit get 503 with a Retry-After; a freed slot goes to the device that waited", async (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-server-"));
	const store = await openStore({ file: join(dir, "fleet.db") });
	const { certs, deviceCa } = devCertificates();
	const server = new UpdateServer({ store, images: join(dir, "images"), cert: readFileSync(certs.cert), key: readFileSync(certs.key), deviceCa: readFileSync(deviceCa.cert), maxDownloads: 1, rateBytesPerSecond: 64 * 1024 });
	const { url } = await server.listen();
	const vendor = makeKey();
	await store.addProduct("demo", new Date());
	await store.addKey("demo", vendor.keyId, toHex(vendor.publicKey));
	const big = bytes(1024 * 1024, 5); // paced at 64 KiB/s: a download stays open for 16 s
	const { token } = await store.createToken("tests", new Date());
	const f = new Fleet(store, server, url, token, vendor);
	try {
		t.is((await f.publish(signRelease(big, { product: "demo", version: "1.2.0", sequence: 2, securityVersion: 1, url: "big.bin" } as any, vendor), big)).status, 201);
		// device A starts a download
		const held = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
			request(`${url}/v1/products/demo/big.bin`, { ca: readFileSync(certs.ca), key: device("dev-a").key, cert: device("dev-a").cert, agent: false }, resolve).on("error", reject).end();
		});
		t.is(held.statusCode, 200);
		const busy = await f.call("GET", "/v1/products/demo/big.bin", { identity: device("dev-b") });
		t.is(busy.status, 503);
		t.is(busy.body.error, "busy");
		t.true(Number(busy.headers["retry-after"]) >= 1);
		t.is(server.gate!.active, 1);
		// A's download ends; when B's turn comes, a newcomer does not take the slot of B, which waited
		held.destroy();
		for (let i = 0; i < 100 && server.gate!.active > 0; i++)
			await new Promise((resolve) => setTimeout(resolve, 10));
		await new Promise((resolve) => setTimeout(resolve, Number(busy.headers["retry-after"]) * 1000 + 200));
		t.is((await f.call("GET", "/v1/products/demo/big.bin", { identity: device("dev-c"), headers: { range: "bytes=0-9" } })).status, 503);
		const admitted = await f.call("GET", "/v1/products/demo/big.bin", { identity: device("dev-b"), headers: { range: "bytes=0-9" } });
		t.is(admitted.status, 206);
		t.is(server.gate!.peak, 1);
	} finally {
		await server.close();
		await store.close();
	}
});
