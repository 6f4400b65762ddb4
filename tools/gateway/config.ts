// A gateway's config (a JSON file, `xs-fota gateway --config FILE`), checked field by field before anything starts:
// where its upstream is and which CA signs the upstream's certificate, the gateway's own identity there (a device
// certificate from the fleet's device CA: its CN is the gateway's id), where it listens for its local devices and with
// which certificate (its own, from a local CA that the devices' configs trust), which device CA its local devices'
// certificates come from, its state folder (cache and queue), and the products it serves with their trusted Ed25519
// keys (it verifies every manifest and image with them before it serves a byte). PEM fields take the PEM itself or
// the path of its file (relative to the config's folder).
import { X509Certificate } from "node:crypto";
import { isAbsolute, join } from "node:path";
import { pemOrFile } from "../server/certificates.js";
import { keyIdOf } from "../cli/keys.js";
import type { TrustedKey } from "../../modules/fota/manifest.js";

export interface GatewayConfig {
	/** the gateway's id: its certificate's CN */
	id: string;
	upstream: { url: string; ca: string; key: string; cert: string };
	listen: { host: string; port: number; cert: string; key: string; deviceCa: string };
	/** the state folder: state.db (queue, devices, cache index) and images/ */
	state: string;
	products: Map<string, TrustedKey[]>;
	/** the cache's bound, bytes (default 1 GiB) */
	cacheBytes: number;
	/** images streaming to local devices at once (default 100), as the server's --max-downloads */
	maxDownloads: number;
	/** how often the gateway asks the upstream for every known device's manifest, s (default 60; 0: only when asked) */
	syncSeconds: number;
	/** reports per forwarded batch (default 50, at most 100) */
	batchSize: number;
	/** reports kept for the upstream, at most (default 100000): past it a device is told to send its report later */
	maxQueued: number;
	/** connect and stall timeout upstream, s (default 10) */
	timeoutSeconds: number;
	/** the gateway's own software, a release of its own product (./self-update.ts): the product, its trusted keys, the
	 * version installed by hand (what runs before any self-update), and how long a new version has to come up, s */
	self: { product: string; keys: TrustedKey[]; installed: string; trialSeconds: number } | undefined;
}

const PRODUCT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;

export class GatewayConfigError extends Error {}

function fail(field: string, why: string): never {
	throw new GatewayConfigError(`gateway config: ${field} ${why}`);
}

function integer(raw: Record<string, unknown>, field: string, fallback: number, min: number, max: number): number {
	const value = raw[field] ?? fallback;
	if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max)
		fail(field, `must be an integer from ${min} to ${max}`);
	return value as number;
}

function string(raw: Record<string, unknown>, field: string, max = 4096): string {
	const value = raw[field];
	if (typeof value !== "string" || value.length === 0 || value.length > max)
		fail(field, `must be a string of 1 to ${max} characters`);
	return value;
}

/** The config, from its parsed JSON; `base` is the folder relative paths start from. */
export function parseGatewayConfig(raw: unknown, base: string): GatewayConfig {
	if (typeof raw !== "object" || raw === null || Array.isArray(raw))
		fail("", "must be a JSON object");
	const r = raw as Record<string, unknown>;
	const known = ["upstream", "upstreamCa", "key", "cert", "listen", "state", "products", "cacheBytes", "maxDownloads", "syncSeconds", "batchSize", "maxQueued", "timeoutSeconds", "self"];
	for (const field of Object.keys(r))
		if (!known.includes(field))
			fail(field, "is not a gateway config field");
	const path = (value: string) => value.includes("-----BEGIN ") || isAbsolute(value) ? value : join(base, value);
	const pem = (value: string, what: string) => {
		try {
			return pemOrFile(path(value), what);
		} catch (error) {
			return fail(what, (error as Error).message);
		}
	};
	const upstream = string(r, "upstream", 1024).replace(/\/$/, "");
	if (!/^https:\/\/[^/]+$/.test(upstream))
		fail("upstream", "must be an https:// URL with no path");
	const cert = pem(string(r, "cert", 65536), "cert");
	let id: string | undefined;
	try {
		id = /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(cert).subject)?.[1];
	} catch (error) {
		fail("cert", `is not a certificate: ${(error as Error).message}`);
	}
	if (!id || !DEVICE_ID.test(id))
		fail("cert", "must name the gateway (CN=<id>, 1 to 64 of A-Z a-z 0-9 . _ -)");
	if (typeof r.listen !== "object" || r.listen === null || Array.isArray(r.listen))
		fail("listen", "must be {host, port, cert, key, deviceCa}");
	const l = r.listen as Record<string, unknown>;
	for (const field of Object.keys(l))
		if (!["host", "port", "cert", "key", "deviceCa"].includes(field))
			fail(`listen.${field}`, "is not a listen field");
	const host = l.host === undefined ? "127.0.0.1" : string(l, "host", 255);
	if (typeof r.products !== "object" || r.products === null || Array.isArray(r.products) || Object.keys(r.products).length === 0)
		fail("products", "must name at least one product with its keys: {\"product\": [{keyId, publicKey}]}");
	const products = new Map<string, TrustedKey[]>();
	for (const [product, keys] of Object.entries(r.products as Record<string, unknown>)) {
		if (!PRODUCT.test(product))
			fail(`products.${product}`, "is not a product name");
		products.set(product, trustedKeys(keys, `products.${product}`));
	}
	let self: GatewayConfig["self"];
	if (r.self !== undefined) {
		const own = r.self as Record<string, unknown>;
		if (typeof own !== "object" || own === null || Array.isArray(own) || Object.keys(own).some((field) => !["product", "keys", "installed", "trialSeconds"].includes(field)))
			fail("self", "must be {product, keys, installed, trialSeconds?}");
		const product = string(own, "product", 64);
		if (!PRODUCT.test(product) || products.has(product))
			fail("self.product", "must be a product name, not one of the products served");
		const installed = string(own, "installed", 128);
		if (!/^[\x21-\x7e]{1,128}$/.test(installed))
			fail("self.installed", "must be a version (printable, no spaces)");
		self = { product, keys: trustedKeys(own.keys, "self.keys"), installed, trialSeconds: integer(own, "trialSeconds", 60, 1, 3600) };
	}
	return {
		id,
		upstream: { url: upstream, ca: pem(string(r, "upstreamCa", 65536), "upstreamCa"), key: pem(string(r, "key", 65536), "key"), cert },
		listen: {
			host,
			port: integer(l, "port", 8444, 0, 65535),
			cert: pem(string(l, "cert", 65536), "listen.cert"),
			key: pem(string(l, "key", 65536), "listen.key"),
			deviceCa: pem(string(l, "deviceCa", 65536), "listen.deviceCa"),
		},
		state: path(string(r, "state", 1024)),
		products,
		cacheBytes: integer(r, "cacheBytes", 1024 ** 3, 1024, Number.MAX_SAFE_INTEGER),
		maxDownloads: integer(r, "maxDownloads", 100, 1, 100000),
		syncSeconds: integer(r, "syncSeconds", 60, 0, 86400),
		batchSize: integer(r, "batchSize", 50, 1, 100),
		maxQueued: integer(r, "maxQueued", 100000, 100, 10000000),
		timeoutSeconds: integer(r, "timeoutSeconds", 10, 1, 600),
		self,
	};
}

/** 1 to 16 trusted Ed25519 keys, each {keyId, publicKey} with the id derived from the key. */
function trustedKeys(keys: unknown, field: string): TrustedKey[] {
	if (!Array.isArray(keys) || keys.length === 0 || keys.length > 16)
		fail(field, "must be 1 to 16 keys");
	return keys.map((key, index) => {
		const k = key as Record<string, unknown>;
		if (typeof k?.publicKey !== "string" || !/^[0-9a-f]{64}$/.test(k.publicKey))
			fail(`${field}[${index}].publicKey`, "must be 64 lower-case hex digits");
		const publicKey = new Uint8Array(Buffer.from(k.publicKey, "hex"));
		if (k.keyId !== keyIdOf(publicKey))
			fail(`${field}[${index}].keyId`, `must be the key's id, ${keyIdOf(publicKey)}`);
		return { keyId: k.keyId as string, publicKey };
	});
}
