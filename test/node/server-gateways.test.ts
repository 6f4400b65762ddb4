// The management server's authority over gateways (tools/server/gateway-authority.ts), over real HTTPS with mutual
// TLS, on SQLite and on PostgreSQL (a throw-away cluster): a gateway acts only for the devices registered behind it,
// a chain only link by link, never when it or the device is revoked; the reports it forwards are taken in order, each
// once (a batch sent again after a cut is not stored twice), and refused for a device not behind it. Each refusal is
// the real request, and the database is compared before and after it.
import test, { type ExecutionContext } from "ava";
import { mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";
import { UpdateServer } from "../../tools/server/server.js";
import { openStore, type FleetStore } from "../../tools/server/store/store.js";
import { devCertificates } from "./lib/https-fixture.js";
import { startPostgres, type PostgresCluster } from "./lib/postgres.js";
import { bytes, makeKey, signRelease } from "./lib/release.js";
import { toHex } from "../../modules/fota/hex.js";
import { GATEWAY_FOR_HEADER, GATEWAY_PREFETCH_HEADER, GATEWAY_VIA_HEADER, gatewayReportsPath, manifestPath, VERSION_HEADER } from "../../modules/fota/protocol.js";

const IMAGE = bytes(20_000, 3);
const identities = new Map<string, { key: string; cert: string }>();
function identity(id: string) {
	let made = identities.get(id);
	if (!made) {
		const { deviceCa } = devCertificates();
		identities.set(id, made = makeDeviceCertificate({ caCert: deviceCa.cert, caKey: deviceCa.key, deviceId: id }));
	}
	return made;
}

interface Cloud { store: FleetStore; server: UpdateServer; url: string; token: string }
interface Reply { status: number; body: any; raw: Buffer }

function call(cloud: Cloud, method: string, path: string, options: { as?: string; token?: boolean; json?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
	const body = options.json === undefined ? undefined : JSON.stringify(options.json);
	return new Promise((resolve, reject) => {
		const outgoing = request(`${cloud.url}${path}`, {
			method, ca: readFileSync(devCertificates().certs.ca), agent: false,
			...(options.as ? identity(options.as) : {}),
			headers: { ...(options.token ? { authorization: `Bearer ${cloud.token}` } : {}), ...(body ? { "content-type": "application/json" } : {}), ...options.headers },
		}, (response) => {
			const chunks: Buffer[] = [];
			response.on("data", (chunk: Buffer) => chunks.push(chunk));
			response.on("end", () => {
				const raw = Buffer.concat(chunks);
				resolve({ status: response.statusCode ?? 0, raw, body: /json/.test(String(response.headers["content-type"])) ? JSON.parse(raw.toString()) : undefined });
			});
		});
		outgoing.on("error", reject);
		outgoing.end(body);
	});
}

let cluster: PostgresCluster | undefined;
let databases = 0;
test.after.always(async () => {
	await cluster?.stop();
});

async function cloud(dialect: "sqlite" | "postgres"): Promise<Cloud> {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-server-gateways-"));
	let store: FleetStore;
	if (dialect === "postgres") {
		cluster ??= await startPostgres();
		store = await openStore({ url: await cluster.createDatabase(`gateways_${++databases}`) });
	} else
		store = await openStore({ file: join(dir, "fleet.db") });
	const { certs, deviceCa } = devCertificates();
	const server = new UpdateServer({ store, images: join(dir, "images"), cert: readFileSync(certs.cert), key: readFileSync(certs.key), deviceCa: readFileSync(deviceCa.cert) });
	const { url } = await server.listen();
	const { token } = await store.createToken("tests", new Date());
	const vendor = makeKey();
	await store.addProduct("demo", new Date());
	await store.addKey("demo", vendor.keyId, toHex(vendor.publicKey));
	const made = { store, server, url, token };
	const manifest = signRelease(IMAGE, { product: "demo", version: "1.1.0", sequence: 1, securityVersion: 1, url: "firmware-1.bin" } as any, vendor);
	const published = await call(made, "POST", "/v1/admin/products/demo/releases", { token: true, json: { manifest: Buffer.from(manifest).toString("base64"), image: Buffer.from(IMAGE).toString("base64") } });
	if (published.status !== 201)
		throw new Error(`publish: ${published.status} ${published.raw}`);
	// gw-1 talks to the cloud; dev-a is behind it; gw-2 is behind gw-1 and dev-b behind gw-2; dev-c is behind nobody
	const registered = await call(made, "POST", "/v1/admin/gateways/gw-1/devices", { token: true, json: { devices: ["dev-a", "gw-2"] } });
	if (registered.status !== 200)
		throw new Error(`register: ${registered.status} ${registered.raw}`);
	await store.gateways.register("gw-2", ["dev-b"], new Date());
	return made;
}

const snapshot = async (c: Cloud) => {
	const devices = await c.store.devices();
	return { devices, histories: await Promise.all(devices.map((device) => c.store.history(device.deviceId))) };
};

const behalf = (device: string, via?: string) => ({ [GATEWAY_FOR_HEADER]: device, [VERSION_HEADER]: "1.0.0", ...(via ? { [GATEWAY_VIA_HEADER]: via } : {}) });
const report = (seq: number, deviceId: string, state = "valid", via: string[] = []) =>
	({ seq, deviceId, via, at: Date.now() - 1000, report: { product: "demo", version: "1.1.0", state } });

for (const dialect of ["sqlite", "postgres"] as const) {
	const serial = (title: string, fn: (t: ExecutionContext, c: Cloud) => Promise<void>) => test.serial(`${dialect}: ${title}`, async (t) => {
		const c = await cloud(dialect);
		try {
			await fn(t, c);
		} finally {
			await c.server.close();
			await c.store.close();
		}
	});

	serial("a gateway gets the manifest and the image for a device behind it, and the inventory names the gateway", async (t, c) => {
		const manifest = await call(c, "GET", manifestPath("demo"), { as: "gw-1", headers: behalf("dev-a") });
		t.is(manifest.status, 200);
		t.deepEqual(new Uint8Array(manifest.raw), (await c.store.releases("demo"))[0]!.manifest);
		const image = await call(c, "GET", "/v1/products/demo/firmware-1.bin", { as: "gw-1", headers: behalf("dev-a") });
		t.is(image.status, 200);
		t.deepEqual(new Uint8Array(image.raw), IMAGE);
		const shown = await call(c, "GET", "/v1/admin/devices/dev-a", { token: true });
		t.like(shown.body, { deviceId: "dev-a", version: "1.0.0", gateway: "gw-1" });
		t.is(await c.store.device("gw-1"), undefined, "the gateway was taken for the device");
		const listed = await call(c, "GET", "/v1/admin/devices", { token: true });
		t.deepEqual(listed.body.map((device: any) => [device.deviceId, device.gateway]), [["dev-a", "gw-1"]]);
		t.deepEqual((await call(c, "GET", "/v1/admin/gateways/gw-1/devices", { token: true })).body, { gateway: "gw-1", devices: ["dev-a", "gw-2"] });
	});

	serial("a gateway asking ahead for a device gets its manifest but records no check: the device was not seen", async (t, c) => {
		const ahead = await call(c, "GET", manifestPath("demo"), { as: "gw-1", headers: { [GATEWAY_FOR_HEADER]: "dev-a", [GATEWAY_PREFETCH_HEADER]: "1" } });
		t.is(ahead.status, 200);
		await c.server.recorded();
		t.is(await c.store.device("dev-a"), undefined);
		await call(c, "GET", manifestPath("demo"), { as: "gw-1", headers: behalf("dev-a") });
		await c.server.recorded(); // a check is committed once its answer is out
		const seen = (await c.store.device("dev-a"))!;
		t.truthy(seen);
		await new Promise((resolve) => setTimeout(resolve, 5));
		await call(c, "GET", manifestPath("demo"), { as: "gw-1", headers: { [GATEWAY_FOR_HEADER]: "dev-a", [GATEWAY_PREFETCH_HEADER]: "1", [VERSION_HEADER]: "0.9.0" } });
		await c.server.recorded();
		t.deepEqual(await c.store.device("dev-a"), seen, "a prefetch moved the device's record");
		// the header means nothing from a device itself: its check is recorded
		await call(c, "GET", manifestPath("demo"), { as: "dev-c", headers: { [GATEWAY_PREFETCH_HEADER]: "1", [VERSION_HEADER]: "1.0.0" } });
		await c.server.recorded();
		t.like(await c.store.device("dev-c"), { version: "1.0.0" });
	});

	serial("a gateway acting for a device not behind it is refused, and nothing is stored", async (t, c) => {
		const before = await snapshot(c);
		for (const [as, headers, why] of [
			["gw-1", behalf("dev-c"), "dev-c is not registered behind gateway gw-1"],
			["gw-1", behalf("dev-b"), "dev-b is not registered behind gateway gw-1"], // behind gw-2, which gw-1 did not name
			["gw-2", behalf("dev-a"), "dev-a is not registered behind gateway gw-2"],
			["gw-1", behalf("dev-b", "gw-9"), "dev-b is not registered behind gateway gw-9"], // a made-up link
			["dev-a", behalf("gw-1"), "gw-1 is not registered behind gateway dev-a"], // a device posing as a gateway
		] as const) {
			const refused = await call(c, "GET", manifestPath("demo"), { as, headers });
			t.is(refused.status, 403, `${as} for ${headers[GATEWAY_FOR_HEADER]}`);
			t.deepEqual(refused.body, { error: "not-behind-gateway", detail: why });
			const image = await call(c, "GET", "/v1/products/demo/firmware-1.bin", { as, headers });
			t.is(image.status, 403);
		}
		t.is((await call(c, "GET", manifestPath("demo"), { as: "gw-1", headers: behalf("dev-a", "dev-a,gw-2") })).status, 400);
		t.is((await call(c, "GET", manifestPath("demo"), { as: "gw-1", headers: { [GATEWAY_FOR_HEADER]: "../dev-a" } })).status, 400);
		t.deepEqual(await snapshot(c), before);
		// the chain, link by link: gw-1 for dev-b through gw-2
		t.is((await call(c, "GET", manifestPath("demo"), { as: "gw-1", headers: behalf("dev-b", "gw-2") })).status, 200);
		await c.server.recorded();
		t.like(await c.store.device("dev-b"), { version: "1.0.0" });
	});

	serial("a revoked gateway, or a revoked device behind it, is refused", async (t, c) => {
		await c.store.revoke("dev-a", new Date());
		const device = await call(c, "GET", manifestPath("demo"), { as: "gw-1", headers: behalf("dev-a") });
		t.deepEqual([device.status, device.body.error], [403, "revoked"]);
		const batch = await call(c, "POST", gatewayReportsPath(), { as: "gw-1", json: { reports: [report(1, "dev-a")] } });
		t.is(batch.status, 200);
		t.like(batch.body.results[0], { seq: 1, status: "refused" });
		t.regex(batch.body.results[0].error, /^revoked: device dev-a is revoked/);
		await c.store.revoke("gw-1", new Date());
		const before = await snapshot(c);
		for (const [method, path, options] of [
			["GET", manifestPath("demo"), { headers: behalf("gw-2") }],
			["GET", manifestPath("demo"), { headers: behalf("dev-b", "gw-2") }],
			["POST", gatewayReportsPath(), { json: { reports: [report(2, "gw-2")] } }],
		] as const) {
			const refused = await call(c, method, path, { as: "gw-1", ...options });
			t.is(refused.status, 403);
			t.is(refused.body.error, "revoked");
		}
		t.deepEqual(await snapshot(c), before);
	});

	serial("forwarded reports are taken in order, each once; a device not behind the gateway is refused for good", async (t, c) => {
		const batch = { reports: [report(1, "dev-a", "downloading"), report(2, "dev-c", "valid"), report(3, "dev-a", "activating"), report(5, "dev-b", "valid", ["gw-2"])] };
		const first = await call(c, "POST", gatewayReportsPath(), { as: "gw-1", json: batch });
		t.is(first.status, 200);
		t.deepEqual(first.body.results.map((result: any) => [result.seq, result.status]), [[1, "stored"], [2, "refused"], [3, "stored"], [5, "stored"]]);
		t.regex(first.body.results[1].error, /^not-behind-gateway: dev-c is not registered behind gateway gw-1/);
		// the gateway did not hear the answer and sends the same batch again, with one more: only the new one is taken
		const again = await call(c, "POST", gatewayReportsPath(), { as: "gw-1", json: { reports: [...batch.reports, report(6, "dev-a", "valid")] } });
		t.deepEqual(again.body.results.map((result: any) => [result.seq, result.status]), [[1, "duplicate"], [2, "duplicate"], [3, "duplicate"], [5, "duplicate"], [6, "stored"]]);
		t.deepEqual((await c.store.history("dev-a")).map((entry) => entry.state), ["valid", "activating", "downloading"]);
		t.deepEqual((await c.store.history("dev-b")).map((entry) => entry.state), ["valid"]);
		t.is(await c.store.device("dev-c"), undefined);
		// a report's time is the gateway's (when the device sent it), never in the future
		const future = await call(c, "POST", gatewayReportsPath(), { as: "gw-1", json: { reports: [{ ...report(7, "dev-a", "valid"), at: Date.now() + 86_400_000 }] } });
		t.is(future.body.results[0].status, "stored");
		t.true(Date.parse((await c.store.history("dev-a"))[0]!.at) <= Date.now());
		// malformed batches are refused whole, before any item is taken
		const before = await snapshot(c);
		for (const body of [{ reports: [report(9, "dev-a"), report(8, "dev-a")] }, { reports: "x" }, { reports: [{ ...report(10, "dev-a"), extra: 1 }] },
			{ reports: Array.from({ length: 101 }, (_, i) => report(20 + i, "dev-a")) }, { reports: [report(11, "dev-a", "valid", ["gw-2", "gw-3", "gw-4", "gw-5"])] }]) {
			const refused = await call(c, "POST", gatewayReportsPath(), { as: "gw-1", json: body });
			t.is(refused.status, 400);
			t.is(refused.body.error, "bad-batch");
		}
		const bad = await call(c, "POST", gatewayReportsPath(), { as: "gw-1", json: { reports: [{ ...report(12, "dev-a"), report: { product: "demo", version: "1", state: "exploded" } }] } });
		t.like(bad.body.results[0], { status: "refused" });
		t.regex(bad.body.results[0].error, /^bad-report: .*state/);
		t.deepEqual(await snapshot(c), before);
		// without a device certificate nothing is read
		const anonymous = await call(c, "POST", gatewayReportsPath(), { json: batch });
		t.is(anonymous.status, 401);
	});
}
