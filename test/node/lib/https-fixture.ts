// A real management server on loopback, for tests that cross the network: a development CA for the server, a device
// CA, a fleet store in a temporary SQLite file, product "demo" with a vendor key, and optionally a release whose image
// the manifest names "1.bin" (so it is served at /v1/products/demo/1.bin). Device requests need a device identity:
// identity(id) makes one from the device CA.
import { mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDevCertificates, makeDeviceCa, makeDeviceCertificate, type DevCertificates } from "../../../tools/server/certificates.js";
import { UpdateServer, type ServerOptions } from "../../../tools/server/server.js";
import { publishRelease } from "../../../tools/server/publish.js";
import { openStore, type FleetStore } from "../../../tools/server/store/store.js";
import { makeKey, signRelease } from "./release.js";
import { toHex } from "../../../modules/fota/hex.js";

export interface Served {
	server: UpdateServer;
	store: FleetStore;
	url: string;
	dir: string;
	certs: DevCertificates;
	caPem: string;
	/** a device identity from the fleet's device CA, as a transport takes it */
	identity(deviceId: string): { ca: string; clientKey: string; clientCertificates: string };
	close(): Promise<void>;
}

let cached: { dir: string; certs: DevCertificates; deviceCa: { cert: string; key: string } } | undefined;

/** One development CA and one device CA per test process: openssl takes a moment. */
export function devCertificates(): { dir: string; certs: DevCertificates; deviceCa: { cert: string; key: string } } {
	if (!cached) {
		const dir = mkdtempSync(join(tmpdir(), "xs-fota-certs-"));
		cached = { dir, certs: makeDevCertificates(dir), deviceCa: makeDeviceCa(dir) };
	}
	return cached;
}

/** Starts a server; with an image, product "demo" has one release (sequence 1) whose image is it, named 1.bin.
 * options: more of the server's (a clock, the rollouts' tick). */
export async function serve(image?: Uint8Array, options: Partial<ServerOptions> = {}): Promise<Served> {
	const { certs, deviceCa } = devCertificates();
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-serve-"));
	const store = await openStore({ file: join(dir, "fleet.db") });
	const images = join(dir, "images");
	await store.addProduct("demo", new Date());
	if (image) {
		const key = makeKey();
		await store.addKey("demo", key.keyId, toHex(key.publicKey));
		const manifest = signRelease(image, { product: "demo", version: "1.0.0", sequence: 1, securityVersion: 1, url: "1.bin" }, key);
		const published = await publishRelease(store, images, "demo", manifest, image);
		if (!published.ok)
			throw new Error(`fixture: ${published.error}: ${published.detail}`);
	}
	const server = new UpdateServer({ store, images, cert: readFileSync(certs.cert), key: readFileSync(certs.key), deviceCa: readFileSync(deviceCa.cert), ...options });
	const { url } = await server.listen();
	const caPem = readFileSync(certs.ca, "utf8");
	return {
		server, store, url, dir, certs, caPem,
		identity(deviceId) {
			const made = makeDeviceCertificate({ caCert: deviceCa.cert, caKey: deviceCa.key, deviceId });
			return { ca: caPem, clientKey: made.key, clientCertificates: made.cert };
		},
		async close() {
			await server.close();
			await store.close();
		},
	};
}

export interface Reply { status: number; body: any; headers: Record<string, string | string[] | undefined> }

/** A request to a served server: as a device (its identity made from the device CA) or with an admin token; the
 * answer's body parsed as JSON when it is, else its bytes. */
export function call(served: Pick<Served, "url" | "caPem" | "identity">, method: string, path: string, options: { device?: string; token?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
	const identity = options.device ? served.identity(options.device) : undefined;
	const body = options.json === undefined ? undefined : JSON.stringify(options.json);
	return new Promise((resolve, reject) => {
		const outgoing = request(`${served.url}${path}`, {
			method, ca: served.caPem, agent: false,
			...(identity ? { key: identity.clientKey, cert: identity.clientCertificates } : {}),
			headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(body ? { "content-type": "application/json" } : {}), ...options.headers },
		}, (response) => {
			const chunks: Buffer[] = [];
			response.on("data", (chunk: Buffer) => chunks.push(chunk));
			response.on("end", () => {
				const raw = Buffer.concat(chunks);
				let parsed: unknown = raw;
				try {
					parsed = JSON.parse(raw.toString("utf8"));
				} catch {
					// a manifest or an image
				}
				resolve({ status: response.statusCode ?? 0, body: parsed, headers: response.headers });
			});
		});
		outgoing.on("error", reject);
		outgoing.end(body);
	});
}
