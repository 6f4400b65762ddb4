// The management server: a fleet's releases and devices, over HTTPS, kept in the fleet store (SQLite by default,
// PostgreSQL to scale out: ./store). Two kinds of client, on one port:
//   devices, with mutual TLS: a certificate from the fleet's device CA names the device (its CN); the URL and the
//     body never do. A device reports and fetches only as itself, and a revoked device gets nothing.
//       GET  /v1/products/<product>/manifest   the signed manifest meant for the device: its rollout's release when its
//                                              stage is open, else the product's release for everyone (./rollouts.ts);
//                                              503 + Retry-After outside its rollout's maintenance windows; 304 with
//                                              the ETag and no body when If-None-Match names the bytes it would send
//       GET  /v1/products/<product>/<file>     a release's image, stored once by SHA-256, with Range, ETag, If-Range
//                                              (a staged release's only to the devices its rollout offered it to);
//                                              at most maxDownloads at once, fairly (./admission.ts): 503 + Retry-After
//       POST /v1/devices/<id>/report           a check-in, stored in the device's history (and its config's: ./configs.ts)
//       GET  /v1/devices/<id>/config           the signed config document waiting for the device, or 204 (./configs.ts);
//                                              every manifest response names its sequence in x-fota-config-pending
//   administrators, with a bearer token (`xs-fota admin token create`; only its hash is stored); shapes in ./admin-api.ts:
//       GET  /v1/admin/fleet       GET /v1/admin/devices[?product=&version=&state=&search=&limit=&offset=]
//       GET  /v1/admin/devices/<id> (with history)
//       POST /v1/admin/devices/<id>/revoke
//       GET  /v1/admin/products    POST /v1/admin/products {product}
//       GET  /v1/admin/products/<p>/keys       POST /v1/admin/products/<p>/keys {publicKey}
//       GET  /v1/admin/products/<p>/releases   POST /v1/admin/products/<p>/releases {manifest, image (base64), staged?}
//       GET  /v1/admin/rollouts[?product=]     POST /v1/admin/rollouts (RolloutSpec)      GET /v1/admin/rollouts/<id>
//       POST /v1/admin/rollouts/<id>/pause|resume|abort
//       GET  /v1/admin/configs[?product=]      POST /v1/admin/configs {document (base64), staged?}
//       GET  /v1/admin/devices/<id>/config
//   anyone: GET / and /page/...: the fleet page (./page.ts), which asks for an admin token and reads the admin API
// Every input is bounded and validated; every error is a JSON object {error, detail?} with a clear status. The URL
// shapes of the device routes come from modules/fota/protocol.ts, which the client uses too.
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { writeRangeHead } from "./serve-range.js";
import { offerResumption, type TlsCounts } from "./sessions.js";
import { DownloadGate } from "./admission.js";
import { readRange } from "./files.js";
import { servePage } from "./page.js";
import { imagePath, publishRelease, trustedKeys } from "./publish.js";
import { StoreConflict, StoreNotFound, type DeviceFilter, type DeviceReport, type FleetStore, type ReleaseRow } from "./store/store.js";
import { checkRelease } from "../release/check.js";
import { MAX_CONFIG_DOC_BYTES } from "../../modules/fota/envelope.js";
import { keyIdOf } from "../cli/keys.js";
import { CONFIG_HEADER, CONFIG_PENDING_HEADER, CONFIG_SOURCES, deviceRoute, IF_NONE_MATCH_HEADER, NOT_MODIFIED, REPORT_STATES, VERSION_HEADER } from "../../modules/fota/protocol.js";
import { acceptConfigDoc, configDocView, deviceConfigView, pendingConfig, withPendingConfigs } from "./configs.js";
import { RolloutEngine, RolloutError } from "./rollouts.js";
import { ROLLOUT_ACTIONS, type RolloutAction } from "./admin-api.js";
import { actingDevice, takeForwarded } from "./gateway-authority.js";
import { WriteBehind } from "./write-behind.js";
import { GATEWAY_FOR_HEADER, GATEWAY_PREFETCH_HEADER, gatewayReportsPath, MAX_GATEWAY_BATCH_BYTES } from "../../modules/fota/protocol.js";

export interface ServerOptions {
	store: FleetStore;
	/** the folder of images, by SHA-256 (shared by the servers of one fleet) */
	images: string;
	/** the server's certificate (chain) and key */
	cert: string | Buffer;
	key: string | Buffer;
	/** PEM: the fleet's device CA; a device endpoint answers only a client certificate it signed */
	deviceCa: string | Buffer;
	host?: string;
	port?: number;
	log?: (line: string) => void;
	/** paces every image response to this many bytes per second, like the link of a device */
	rateBytesPerSecond?: number;
	/** reports kept per device (default 100) */
	historyLimit?: number;
	/** image responses streaming at once, at most (./admission.ts); more devices get 503 with a Retry-After. Default
	 * 100; 0 for no limit. */
	maxDownloads?: number;
	/** the rollouts' clock, ms since the epoch (default Date.now): tests move it to drive soaks, timeouts and windows */
	now?: () => number;
	/** how often the rollouts are judged, ms (default 1000); 0: only when rollouts.tick() is called */
	rolloutTickMs?: number;
	/** how long a poll's check and a light report wait before their commit, unless needed sooner (default
	 * LIGHT_WRITE_DELAY_MS; 0: at once, after the answer) */
	lightWriteDelayMs?: number;
}

export const MAX_REPORT_BYTES = 4096;
/** Reports of progress, committed as a poll's bookkeeping is (a light commit: no disk sync to wait for), and, like a
 * poll's check, once the answer is out (#deferred): a device sends "downloading" once as a download begins and goes on to
 * the image without waiting for a commit; its outcome follows in durable reports ("activating", then "valid" or
 * "rolled-back"...), which supersede it; nothing the server decides rests on it but a rollout offer's timeout, moved by
 * a durable write of its own. Every other state is an outcome: durable, and committed before its answer
 * (docs/server.md, "Durability"). */
export const LIGHT_REPORT_STATES: readonly string[] = ["downloading"];
/** How long after its answer a poll's check or a light report is committed, at the latest, unless the device's next
 * request (but an image's), an outcome report, an admin request, recorded() or close() needs it sooner (#deferred): long enough that a
 * device's whole update on a fast link (its check, `downloading`, the image) passes before the first of them runs, so
 * no commit holds up a request of the update; short enough that the fleet page is never far behind. */
export const LIGHT_WRITE_DELAY_MS = 100;
const MAX_ADMIN_BYTES = 64 * 1024;
/** a release's JSON: the image (up to 6 MiB) and the manifest in base64 */
const MAX_RELEASE_BYTES = 8 * 1024 * 1024 + 64 * 1024;
const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const PRODUCT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class HttpError extends Error {
	constructor(readonly status: number, readonly error: string, readonly detail?: string, readonly headers: Record<string, string> = {}) {
		super(detail ? `${error}: ${detail}` : error);
	}
}

const text = (value: unknown, max: number): value is string => typeof value === "string" && value.length > 0 && value.length <= max;
const integer = (value: unknown, max: number): value is number => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max;

/** A device's check-in, validated field by field; throws HttpError 400 naming the first bad field. */
export function parseReport(body: unknown, deviceId: string): DeviceReport {
	const bad = (field: string, why: string) => new HttpError(400, "bad-report", `${field} ${why}`);
	if (typeof body !== "object" || body === null || Array.isArray(body))
		throw new HttpError(400, "bad-report", "the report must be a JSON object");
	const r = body as Record<string, unknown>;
	const known = ["deviceId", "product", "version", "state", "error", "target", "securityVersion", "sequence", "slot", "progress", "config", "configTarget"];
	for (const field of Object.keys(r))
		if (!known.includes(field))
			throw bad(field, "is not a report field");
	if (r.deviceId !== undefined && r.deviceId !== deviceId)
		throw new HttpError(403, "not-yourself", "deviceId in the body is not the device of the certificate");
	if (!text(r.product, 64) || !PRODUCT.test(r.product))
		throw bad("product", "must be a product name");
	if (!text(r.version, 128))
		throw bad("version", "must be a string of 1 to 128 characters");
	if (!REPORT_STATES.includes(r.state as never))
		throw bad("state", `must be one of ${REPORT_STATES.join(", ")}`);
	if (r.error !== undefined && !text(r.error, 500))
		throw bad("error", "must be a string of 1 to 500 characters");
	if (r.target !== undefined && !text(r.target, 128))
		throw bad("target", "must be a string of 1 to 128 characters");
	for (const [field, max] of [["securityVersion", 0xffffffff], ["sequence", Number.MAX_SAFE_INTEGER], ["slot", 15], ["progress", 0xffffffff]] as const)
		if (r[field] !== undefined && !integer(r[field], max))
			throw bad(field, `must be an integer from 0 to ${max}`);
	const report: DeviceReport = { deviceId, product: r.product, version: r.version, state: r.state as string };
	if (r.error !== undefined) report.error = r.error as string;
	if (r.target !== undefined) report.target = r.target as string;
	if (r.securityVersion !== undefined) report.securityVersion = r.securityVersion as number;
	if (r.sequence !== undefined) report.sequence = r.sequence as number;
	if (r.slot !== undefined) report.slot = r.slot as number;
	if (r.config !== undefined) {
		const config = r.config as Record<string, unknown>;
		if (typeof config !== "object" || config === null || !text(config.sha256, 64) || !SHA256_HEX.test(config.sha256) ||
			typeof config.fields !== "object" || config.fields === null || Array.isArray(config.fields))
			throw bad("config", "must be {sha256, fields}");
		const entries = Object.entries(config.fields as Record<string, unknown>);
		if (entries.length > 32 || entries.some(([name, value]) => !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(name) ||
			!(typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && value.length <= 256))))
			throw bad("config.fields", "must be up to 32 named strings (256 characters), numbers or booleans");
		report.config = { sha256: config.sha256, fields: config.fields as Record<string, string | number | boolean> };
		// other members of config are dropped, as before sequence, source and lost came: a newer client is not refused
		if (config.sequence !== undefined) {
			if (!integer(config.sequence, Number.MAX_SAFE_INTEGER))
				throw bad("config.sequence", `must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`);
			report.config.sequence = config.sequence;
		}
		if (config.source !== undefined) {
			if (!CONFIG_SOURCES.includes(config.source as never))
				throw bad("config.source", `must be one of ${CONFIG_SOURCES.join(", ")}`);
			report.config.source = config.source as string;
		}
		if (config.lost !== undefined) {
			if (!Array.isArray(config.lost) || config.lost.length > 8 || !config.lost.every((name) => typeof name === "string" && /^[A-Za-z0-9._-]{1,32}$/.test(name)))
				throw bad("config.lost", "must list up to 8 copy names (e.g. \"working-1\")");
			report.config.lost = config.lost as string[];
		}
	}
	if (r.configTarget !== undefined) {
		if (!integer(r.configTarget, Number.MAX_SAFE_INTEGER) || r.configTarget < 1)
			throw bad("configTarget", `must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`);
		report.configTarget = r.configTarget;
	}
	if (report.state.startsWith("config-") && report.configTarget === undefined)
		throw bad("configTarget", `is needed with state ${report.state} (the config document's sequence it concerns)`);
	return report;
}

export class UpdateServer {
	readonly store: FleetStore;
	/** body bytes of images sent per path, for tests and benchmarks */
	readonly sent = new Map<string, number>();
	readonly #server: Server;
	readonly #options: ServerOptions;
	/** the image files of each release (the signed URL names them), by product and sequence: releases never change */
	readonly #files = new Map<string, string>();
	/** admission of image downloads; undefined when unlimited */
	readonly gate: DownloadGate | undefined;
	/** the staged rollouts: which manifest each device gets, and their state changes */
	readonly rollouts: RolloutEngine;
	/** Each device's writes whose answer is already out (its checks, its light reports), in one chain a device, run
	 * LIGHT_WRITE_DELAY_MS later or as soon as something needs them (./write-behind.ts): their order is kept, so a
	 * report never lands before the check that led to it, nor an outcome before its "downloading". The device's next
	 * request but an image's runs and waits for its chain (#handle), an outcome report too (#report), an admin request
	 * and recorded() and close() for every chain. A write that fails is logged and the chain goes on. */
	readonly #deferred: WriteBehind;
	/** full TLS handshakes and resumptions so far; resumption by id from a bounded cache (./sessions.ts) */
	readonly tls: TlsCounts;

	constructor(options: ServerOptions) {
		this.#options = options;
		this.store = options.store;
		const limit = options.maxDownloads ?? 100;
		this.gate = limit > 0 ? new DownloadGate({ limit }) : undefined;
		this.rollouts = new RolloutEngine(options.store, { ...(options.now ? { now: options.now } : {}), log: (line) => this.#log(line) });
		this.#deferred = new WriteBehind(options.lightWriteDelayMs ?? LIGHT_WRITE_DELAY_MS,
			(deviceId, what, error) => this.#log(`${deviceId}: recording ${what} failed: ${(error as Error).stack ?? error}`));
		// A client certificate is asked of everyone and checked against the device CA; the device routes insist on it,
		// the admin routes use a bearer token instead (so an admin needs no device certificate).
		this.#server = createServer({ cert: options.cert, key: options.key, ca: options.deviceCa, requestCert: true, rejectUnauthorized: false },
			answeringErrors((request, response) => this.#handle(request, response), (line) => this.#log(line)));
		this.#server.keepAliveTimeout = 5000;
		this.tls = offerResumption(this.#server);
	}

	listen(): Promise<{ port: number; url: string }> {
		const host = this.#options.host ?? "127.0.0.1";
		return new Promise((resolve, reject) => {
			this.#server.once("error", reject);
			this.#server.listen(this.#options.port ?? 0, host, 2048, () => { // a backlog for a fleet coming back at once
				const port = (this.#server.address() as AddressInfo).port;
				const tick = this.#options.rolloutTickMs ?? 1000;
				if (tick > 0)
					this.rollouts.start(tick);
				resolve({ port, url: `https://${host === "127.0.0.1" ? "localhost" : host}:${port}` });
			});
		});
	}

	/** Resolves once every check and light report answered so far is in the store (#deferred): for a reader of the store
	 * beside the devices (a test, an export) that must see the polls and reports already answered. */
	async recorded(): Promise<void> {
		await this.#deferred.flushAll();
	}

	/** Stops listening and ends every connection; the store stays open (its owner closes it). */
	async close(): Promise<void> {
		await this.rollouts.stop();
		await this.recorded(); // the checks and reports being recorded reach the store before its owner closes it
		return new Promise((resolve) => {
			this.#server.closeAllConnections();
			this.#server.close(() => resolve());
		});
	}

	#log(line: string): void {
		this.#options.log?.(line);
	}

	#json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
		writeJson(response, status, body, headers);
	}

	async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const url = new URL(request.url ?? "/", "https://server");
		if (servePage(request, response, url.pathname)) // the fleet page: GET / and /page/... (./page.ts)
			return;
		if (url.pathname.startsWith("/v1/admin/"))
			return this.#admin(request, response, url);
		if (url.pathname === gatewayReportsPath() && request.method === "POST") // a gateway's stored reports (./gateway-authority.ts)
			return this.#forwarded(request, response, await this.#device(request));
		const route = deviceRoute(request.method ?? "", url.pathname);
		if (!route)
			throw new HttpError(404, "not-found", `${request.method} ${url.pathname}`);
		const deviceId = await this.#acting(request, await this.#device(request));
		if (route.kind === "report") // a light report is answered first; each report is recorded after the device's deferred writes
			return this.#report(request, response, deviceId, route.deviceId);
		// An image request reads releases and offers and writes nothing: it does not wait for the device's deferred
		// writes (a "downloading" report in flight must not hold up the download it announces). Every other request
		// runs them and waits: the device's last check and light report are in the store before anything else of it
		// happens.
		if (route.kind !== "file")
			await this.#deferred.flush(deviceId);
		if (route.kind === "config")
			return this.#config(request, response, deviceId, route.deviceId);
		if (!PRODUCT.test(route.product))
			throw new HttpError(404, "not-found", "no such product");
		if (route.kind === "manifest") {
			// the running version the device names; one that is not 1 to 128 printable characters is not taken (logged),
			// but never costs the device its manifest: a poll refused for a header would leave it without updates
			const named = request.headers[VERSION_HEADER];
			const version = typeof named === "string" && /^[\x21-\x7e]{1,128}$/.test(named) ? named : undefined;
			if (named !== undefined && version === undefined)
				this.#log(`${deviceId}: ${VERSION_HEADER} is not a version; not taken`);
			// a gateway asking ahead for a device (./gateway-authority.ts) is not the device: no check is recorded
			const prefetch = request.headers[GATEWAY_PREFETCH_HEADER] !== undefined && request.headers[GATEWAY_FOR_HEADER] !== undefined;
			const config = this.#namedConfig(request, deviceId);
			const at = new Date();
			try {
				await this.#configPending(response, route.product, deviceId, config, prefetch);
				return await this.#manifest(request, response, route.product, deviceId);
			} finally {
				if (!prefetch) // the check and the config sequence it names: one light commit, once the answer is out
					this.#recordCheck(deviceId, at, version ? { product: route.product, version } : undefined, config);
			}
		}
		return this.#image(request, response, route.product, route.name, deviceId);
	}

	/** Records a device's check (recordCheck: a poll's bookkeeping, a light commit, at the time the request came)
	 * once its manifest's answer is out, not before: the answer rests on nothing the check writes (the decision reads
	 * the device's offers and the product's releases; the config hint, the sequence the request names), and the device
	 * need not wait for a commit that states only that it polled. A check that fails is logged (the device polls
	 * again), as a lost light commit would be. */
	#recordCheck(deviceId: string, at: Date, seen: { product: string; version: string } | undefined, config: number | undefined): void {
		this.#deferred.add(deviceId, "its check", async () => {
			await this.store.recordCheck(deviceId, at, this.#options.historyLimit ?? 100, seen, config);
		});
	}

	/** The device a request comes from: the CN of a client certificate the device CA signed, not revoked. */
	async #device(request: IncomingMessage): Promise<string> {
		const deviceId = certifiedDevice(request);
		if (await this.store.isRevoked(deviceId))
			throw new HttpError(403, "revoked", `device ${deviceId} is revoked`);
		return deviceId;
	}

	/** The device a request acts for: its certificate's, or the one a gateway names and may act for (./gateway-authority.ts). */
	async #acting(request: IncomingMessage, certified: string): Promise<string> {
		const acting = await actingDevice(this.store, certified, request.headers);
		if (!acting.ok)
			throw new HttpError(acting.status, acting.error, acting.detail);
		if (acting.deviceId !== certified)
			this.#log(`gateway ${certified} acts for ${acting.deviceId}${acting.via.length ? ` via ${acting.via.join(",")}` : ""}`);
		return acting.deviceId;
	}

	async #forwarded(request: IncomingMessage, response: ServerResponse, gatewayId: string): Promise<void> {
		const body = await readJson(request, MAX_GATEWAY_BATCH_BYTES);
		const taken = await takeForwarded(this.store, gatewayId, body, {
			parse: parseReport,
			historyLimit: this.#options.historyLimit ?? 100,
			now: () => Date.now(),
			stored: (report, at) => this.rollouts.onReport(report, new Date(this.#options.now?.() ?? at.getTime())),
			log: (line) => this.#log(line),
		});
		if (!taken.ok)
			throw new HttpError(taken.status, taken.error, taken.detail);
		this.#json(response, 200, { results: taken.results });
	}

	async #manifest(request: IncomingMessage, response: ServerResponse, product: string, deviceId: string): Promise<void> {
		const decision = await this.rollouts.manifestFor(deviceId, product);
		if (decision.kind === "wait")
			throw new HttpError(503, "maintenance-window", decision.why, { "retry-after": String(decision.seconds) });
		if (decision.kind === "none")
			throw new HttpError(404, "no-release", `no release for ${product}`);
		const release = decision.release;
		writeManifest(request, response, Buffer.from(release.manifest));
	}

	/** The config sequence a device names in a request (CONFIG_HEADER): undefined when absent, or not a whole number
	 * (logged, and never costs the device its answer). */
	#namedConfig(request: IncomingMessage, deviceId: string): number | undefined {
		const named = request.headers[CONFIG_HEADER];
		if (named === undefined)
			return undefined;
		if (typeof named === "string" && /^(0|[1-9][0-9]{0,15})$/.test(named) && Number.isSafeInteger(Number(named)))
			return Number(named);
		this.#log(`${deviceId}: ${CONFIG_HEADER} is not a config sequence; not taken`);
		return undefined;
	}

	/** On a manifest request that names the device's config sequence (`named`): keeps it when no check will
	 * (`unkept`: a gateway's prefetch records no check; otherwise the check's own light commit keeps it), and names the
	 * sequence of the document waiting for the device in CONFIG_PENDING_HEADER, set before the answer so that every
	 * status carries it. A failure here is logged and costs the device nothing but the hint. */
	async #configPending(response: ServerResponse, product: string, deviceId: string, named: number | undefined, unkept: boolean): Promise<void> {
		if (named === undefined)
			return;
		try {
			if (unkept && (await this.store.deviceConfig(deviceId))?.sequence !== named)
				await this.store.noteConfigSequence(deviceId, named, new Date());
			const pending = await pendingConfig(this.store, deviceId, product, named, (doc) => this.rollouts.offerConfig(deviceId, doc));
			if (pending)
				response.setHeader(CONFIG_PENDING_HEADER, String(pending.sequence));
		} catch (error) {
			this.#log(`${deviceId}: finding its pending config failed: ${(error as Error).stack ?? error}`);
		}
	}

	/** GET /v1/devices/<id>/config: the signed document waiting for the device (it verifies it), or 204. */
	async #config(request: IncomingMessage, response: ServerResponse, deviceId: string, named: string): Promise<void> {
		if (named !== deviceId)
			throw new HttpError(403, "not-yourself", `device ${deviceId} cannot fetch the config of ${named}`);
		const device = await this.store.device(deviceId);
		const pending = device && await pendingConfig(this.store, deviceId, device.product, this.#namedConfig(request, deviceId),
			(doc) => this.rollouts.offerConfig(deviceId, doc));
		if (!pending) {
			response.writeHead(204, { "cache-control": "no-store" });
			return void response.end();
		}
		this.#log(`config ${deviceId}: document ${pending.sequence} of ${pending.product}`);
		response.writeHead(200, { "content-type": "application/octet-stream", "content-length": pending.bytes.length, "cache-control": "no-store",
			etag: `"${pending.sha256.slice(0, 32)}"` });
		response.end(Buffer.from(pending.bytes));
	}

	/** The image named `name` by one of the product's releases (newest first). */
	async #findImage(product: string, name: string): Promise<ReleaseRow | undefined> {
		const releases = await this.store.releases(product);
		for (const release of releases) {
			const key = `${product}\n${release.sequence}`;
			let file = this.#files.get(key);
			if (file === undefined) {
				const opened = checkRelease(release.manifest, undefined, await trustedKeys(this.store, product), { product });
				file = opened.ok ? opened.manifest.image.url : "";
				this.#files.set(key, file);
			}
			if (file === name)
				return release;
		}
		return undefined;
	}

	async #image(request: IncomingMessage, response: ServerResponse, product: string, name: string, deviceId: string): Promise<void> {
		const release = await this.#findImage(product, name);
		if (!release || !(await this.rollouts.mayDownload(deviceId, release)))
			throw new HttpError(404, "not-found", `no image ${name} in ${product}'s releases${release ? " offered to this device" : ""}`);
		if (this.gate && request.method !== "HEAD") {
			const admission = this.gate.enter(deviceId);
			if (!admission.admitted)
				throw new HttpError(503, "busy", `${this.gate.limit} downloads are running; ${admission.position} devices wait before this one`,
					{ "retry-after": String(admission.retryAfterSeconds) });
			response.once("close", admission.release);
		}
		const path = imagePath(this.#options.images, release.imageSha256);
		const answer = writeRangeHead(request, response, statSync(path).size, `"${release.imageSha256.slice(0, 32)}"`);
		if (!answer)
			return;
		this.#log(`${answer.status} ${request.url} ${answer.status === 206 ? `${answer.start}-${answer.end}` : answer.end + 1}`);
		const key = new URL(request.url ?? "/", "https://server").pathname;
		const rate = this.#options.rateBytesPerSecond;
		const started = performance.now();
		let written = 0;
		for (const piece of readRange(path, answer.start, answer.end, rate ? 16 * 1024 : undefined)) {
			if (rate) { // never ahead of the link: each piece leaves when it and the bytes before it would have crossed it
				written += piece.length;
				const due = started + (written / rate) * 1000 - performance.now();
				if (due > 0)
					await new Promise((resolve) => setTimeout(resolve, due));
			}
			if (!(await this.#write(response, piece)))
				return;
			this.sent.set(key, (this.sent.get(key) ?? 0) + piece.length);
		}
		response.end();
	}

	#write(response: ServerResponse, data: Buffer): Promise<boolean> {
		if (response.destroyed)
			return Promise.resolve(false);
		if (response.write(data))
			return Promise.resolve(true);
		return new Promise((resolve) => {
			const done = (ok: boolean) => {
				response.off("drain", drained);
				response.off("close", closed);
				resolve(ok);
			};
			const drained = () => done(true);
			const closed = () => done(false);
			response.on("drain", drained);
			response.on("close", closed);
		});
	}

	async #report(request: IncomingMessage, response: ServerResponse, deviceId: string, named: string): Promise<void> {
		if (named !== deviceId)
			throw new HttpError(403, "not-yourself", `device ${deviceId} cannot report as ${named}`);
		const body = await readJson(request, MAX_REPORT_BYTES);
		const report = parseReport(body, deviceId);
		const at = new Date();
		const light = LIGHT_REPORT_STATES.includes(report.state);
		const record = async () => {
			const row = await this.store.recordReport(report, at, this.#options.historyLimit ?? 100, undefined, { light });
			await this.rollouts.onReport(report, new Date(this.#options.now?.() ?? at.getTime()));
			this.#log(`report ${deviceId}: ${row.state} ${row.version}${row.lastError ? ` (${row.lastError})` : ""}`);
		};
		if (light) { // validated, so answered now; recorded in the device's order, and a failure logged (#deferred)
			response.writeHead(204);
			response.end();
			return this.#deferred.add(deviceId, `its ${report.state} report`, record);
		}
		await this.#deferred.flush(deviceId); // an outcome lands after the device's check and "downloading" before it
		await record();
		response.writeHead(204);
		response.end();
	}

	async #admin(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
		const authorization = request.headers.authorization ?? "";
		const token = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(authorization)?.[1];
		const admin = token ? await this.store.checkToken(token) : undefined;
		if (!admin)
			throw new HttpError(401, "unauthorized", token ? "the token is not valid" : "an admin bearer token is required", { "www-authenticate": "Bearer" });
		let parts: string[];
		try {
			parts = url.pathname.split("/").slice(3).map((part) => decodeURIComponent(part));
		} catch {
			throw new HttpError(400, "bad-path", "the path does not decode");
		}
		const method = request.method ?? "";
		// an admin sees every poll and report answered before it asked, none still waiting for its commit (#deferred)
		await this.#deferred.flushAll();
		const [collection, id, sub, extra] = parts;
		if (extra !== undefined)
			throw new HttpError(404, "not-found", url.pathname);
		if (collection === "fleet" && id === undefined && method === "GET")
			return this.#json(response, 200, await this.store.fleetSummary());
		if (collection === "rollouts")
			return this.#rolloutRoute(request, response, method, url, id, sub, admin.name);
		if (collection === "configs")
			return this.#configRoute(request, response, method, url, id, admin.name);
		if (collection === "gateways")
			return this.#gatewayRoute(request, response, method, id, sub);
		if (collection === "devices") {
			if (id === undefined && method === "GET") {
				const devices = await withPendingConfigs(this.store, await this.store.devices(deviceFilter(url.searchParams)),
					(device, doc) => this.rollouts.configOffered(device, doc));
				const gateways = await this.store.gateways.gatewaysOf(devices.map((device) => device.deviceId));
				return this.#json(response, 200, devices.map((device) => ({ ...device, gateway: gateways.get(device.deviceId) ?? null })));
			}
			if (id !== undefined && !DEVICE_ID.test(id))
				throw new HttpError(400, "bad-device-id", "a device id is 1 to 64 of [A-Za-z0-9._-]");
			if (id !== undefined && sub === undefined && method === "GET") {
				const device = await this.store.device(id);
				if (!device)
					throw new HttpError(404, "not-found", `no device ${id}`);
				return this.#json(response, 200, { ...device, gateway: (await this.store.gateways.gatewayOf(id)) ?? null, history: await this.store.history(id) });
			}
			if (id !== undefined && sub === "config" && method === "GET") {
				const device = await this.store.device(id);
				if (!device && !(await this.store.deviceConfig(id)))
					throw new HttpError(404, "not-found", `no device ${id}`);
				return this.#json(response, 200, await deviceConfigView(this.store, id, device?.product, (doc) => this.rollouts.configOffered(id, doc)));
			}
			if (id !== undefined && sub === "revoke" && method === "POST") {
				await this.store.revoke(id, new Date());
				this.#log(`revoked ${id}`);
				return this.#json(response, 200, { deviceId: id, revoked: true });
			}
		}
		if (collection === "products") {
			if (id === undefined && method === "GET")
				return this.#json(response, 200, await this.store.products());
			if (id === undefined && method === "POST") {
				const body = await readJson(request, MAX_ADMIN_BYTES) as Record<string, unknown>;
				if (!text(body?.product, 64) || !PRODUCT.test(body.product))
					throw new HttpError(400, "bad-product", "product must be 1 to 64 of [A-Za-z0-9._-], starting with a letter or digit");
				await this.store.addProduct(body.product, new Date());
				return this.#json(response, 201, { product: body.product });
			}
			if (id === undefined || !PRODUCT.test(id))
				throw new HttpError(400, "bad-product", "no such product name");
			if (sub === "keys" && method === "GET")
				return this.#json(response, 200, await this.store.keys(id));
			if (sub === "keys" && method === "POST") {
				const body = await readJson(request, MAX_ADMIN_BYTES) as Record<string, unknown>;
				if (!text(body?.publicKey, 64) || !/^[0-9a-f]{64}$/.test(body.publicKey))
					throw new HttpError(400, "bad-key", "publicKey must be the raw Ed25519 key in 64 lower-case hex digits");
				if (body.role !== undefined && body.role !== "firmware" && body.role !== "config")
					throw new HttpError(400, "bad-key", "role must be \"firmware\" (signs manifests) or \"config\" (signs config documents)");
				const keyId = keyIdOf(new Uint8Array(Buffer.from(body.publicKey, "hex")));
				if (body.keyId !== undefined && body.keyId !== keyId)
					throw new HttpError(400, "bad-key", `keyId ${String(body.keyId)} is not this key's (${keyId})`);
				try {
					await this.store.addKey(id, keyId, body.publicKey, body.role === "config" ? "config" : "firmware");
				} catch (error) {
					if (error instanceof StoreConflict)
						throw new HttpError(409, "duplicate-key", error.message);
					if (error instanceof StoreNotFound)
						throw new HttpError(404, "unknown-product", error.message);
					throw error;
				}
				return this.#json(response, 201, { product: id, keyId, role: body.role === "config" ? "config" : "firmware" });
			}
			if (sub === "releases" && method === "GET")
				return this.#json(response, 200, (await this.store.releases(id)).map(({ manifest: _, ...release }) => release));
			if (sub === "releases" && method === "POST") {
				const body = await readJson(request, MAX_RELEASE_BYTES) as Record<string, unknown>;
				const manifest = base64Field(body, "manifest", 4096);
				const image = base64Field(body, "image", 6 * 1024 * 1024);
				if (body.staged !== undefined && typeof body.staged !== "boolean")
					throw new HttpError(400, "bad-release", "staged must be true or false");
				const published = await publishRelease(this.store, this.#options.images, id, manifest, image, new Date(), { staged: body.staged === true });
				if (!published.ok)
					throw new HttpError(published.status, published.error, published.detail);
				this.#log(`published ${id} ${published.release.version} (sequence ${published.release.sequence})`);
				const { manifest: _, ...release } = published.release;
				return this.#json(response, 201, release);
			}
		}
		throw new HttpError(404, "not-found", `${method} ${url.pathname}`);
	}

	async #configRoute(request: IncomingMessage, response: ServerResponse, method: string, url: URL, id: string | undefined, by: string): Promise<void> {
		const answer = await configRoute({ store: this.store, log: (line) => this.#log(line) }, request, method, url, id, by);
		return this.#json(response, answer.status, answer.body);
	}

	/** GET /v1/admin/gateways/<id>/devices; POST ... {devices: [ids]} registers them behind the gateway, {remove: [ids]} removes them. */
	async #gatewayRoute(request: IncomingMessage, response: ServerResponse, method: string, id: string | undefined, sub: string | undefined): Promise<void> {
		if (id === undefined || !DEVICE_ID.test(id) || sub !== "devices")
			throw new HttpError(404, "not-found", "the gateway routes are /v1/admin/gateways/<gateway id>/devices");
		if (method === "POST") {
			const body = await readJson(request, MAX_ADMIN_BYTES) as Record<string, unknown>;
			const ids = (name: string) => {
				const value = body?.[name] ?? [];
				if (!Array.isArray(value) || value.length > 10000 || value.some((device) => typeof device !== "string" || !DEVICE_ID.test(device) || device === id))
					throw new HttpError(400, "bad-devices", `${name} must be a list of up to 10000 device ids other than the gateway's`);
				return value as string[];
			};
			const devices = ids("devices"), remove = ids("remove");
			await this.store.gateways.register(id, devices, new Date());
			await this.store.gateways.unregister(id, remove);
			this.#log(`gateway ${id}: ${devices.length} devices registered behind it, ${remove.length} removed`);
		}
		else if (method !== "GET")
			throw new HttpError(404, "not-found", `${method} /v1/admin/gateways/${id}/devices`);
		return this.#json(response, 200, { gateway: id, devices: await this.store.gateways.devicesBehind(id) });
	}

	async #rolloutRoute(request: IncomingMessage, response: ServerResponse, method: string, url: URL, id: string | undefined, action: string | undefined, by: string): Promise<void> {
		try {
			if (id === undefined && method === "GET") {
				const product = url.searchParams.get("product");
				if (product !== null && !PRODUCT.test(product))
					throw new HttpError(400, "bad-filter", "product must be a product name");
				return this.#json(response, 200, await this.rollouts.views(product ?? undefined));
			}
			if (id === undefined && method === "POST") {
				const view = await this.rollouts.create(await readJson(request, MAX_ADMIN_BYTES * 16));
				return this.#json(response, 201, view);
			}
			if (id === undefined || !/^[1-9][0-9]{0,14}$/.test(id))
				throw new HttpError(400, "bad-rollout-id", "a rollout id is a positive whole number");
			if (action === undefined && method === "GET") {
				const view = await this.rollouts.view(Number(id), true);
				if (!view)
					throw new HttpError(404, "not-found", `no rollout ${id}`);
				return this.#json(response, 200, view);
			}
			if (action !== undefined && method === "POST" && (ROLLOUT_ACTIONS as readonly string[]).includes(action)) {
				const length = Number(request.headers["content-length"] ?? 0);
				const body = length > 0 || request.headers["transfer-encoding"] ? await readJson(request, MAX_ADMIN_BYTES) : {};
				if (typeof body !== "object" || body === null || Array.isArray(body))
					throw new HttpError(400, "bad-action", "the body must be a JSON object");
				return this.#json(response, 200, await this.rollouts.act(Number(id), action as RolloutAction, by, body as Record<string, unknown>));
			}
		} catch (error) {
			if (error instanceof RolloutError)
				throw new HttpError(error.status, error.code, error.message);
			throw error;
		}
		throw new HttpError(404, "not-found", `${method} ${url.pathname}`);
	}
}

/** The admin API's config documents (./configs.ts): GET /v1/admin/configs[?product=], POST /v1/admin/configs. */
async function configRoute(server: { store: FleetStore; log: (line: string) => void }, request: IncomingMessage, method: string, url: URL,
	id: string | undefined, by: string): Promise<{ status: number; body: unknown }> {
	if (id !== undefined)
		throw new HttpError(404, "not-found", `${method} ${url.pathname}`);
	if (method === "GET") {
		const product = url.searchParams.get("product");
		if (product !== null && !PRODUCT.test(product))
			throw new HttpError(400, "bad-filter", "product must be a product name");
		const products = product !== null ? [product] : await server.store.products();
		const docs = (await Promise.all(products.map((name) => server.store.configDocs(name)))).flat();
		return { status: 200, body: docs.map(configDocView) };
	}
	if (method === "POST") {
		const body = await readJson(request, MAX_ADMIN_BYTES) as Record<string, unknown>;
		if (typeof body !== "object" || body === null || Array.isArray(body))
			throw new HttpError(400, "bad-config", "the body must be {document, staged?}");
		for (const field of Object.keys(body))
			if (field !== "document" && field !== "staged")
				throw new HttpError(400, "bad-config", `${field.slice(0, 40)} is not a field of a config upload (document, staged)`);
		const document = base64Field(body, "document", MAX_CONFIG_DOC_BYTES);
		if (body.staged !== undefined && typeof body.staged !== "boolean")
			throw new HttpError(400, "bad-config", "staged must be true or false");
		const accepted = await acceptConfigDoc(server.store, document, { staged: body.staged === true, by });
		if (!accepted.ok)
			throw new HttpError(accepted.reason === "unknown-product" ? 404 : accepted.reason === "sequence-used" ? 409 : 422, accepted.reason, accepted.detail);
		server.log(`config document ${accepted.sequence} of ${accepted.product} accepted from ${by}${body.staged === true ? " (staged)" : ""}`);
		const doc = (await server.store.configDocs(accepted.product, accepted.sequence - 1)).find((row) => row.sequence === accepted.sequence)!;
		return { status: 201, body: configDocView(doc) };
	}
	throw new HttpError(404, "not-found", `${method} ${url.pathname}`);
}

function deviceFilter(params: URLSearchParams): DeviceFilter {
	const filter: DeviceFilter = {};
	for (const name of ["product", "version", "state", "search"] as const) {
		const value = params.get(name);
		if (value !== null) {
			if (!text(value, 128))
				throw new HttpError(400, "bad-filter", `${name} must be 1 to 128 characters`);
			filter[name] = value;
		}
	}
	for (const name of ["limit", "offset"] as const) {
		const value = params.get(name);
		if (value !== null) {
			if (!/^\d{1,9}$/.test(value) || (name === "limit" && (Number(value) < 1 || Number(value) > 10000)))
				throw new HttpError(400, "bad-filter", `${name} must be an integer${name === "limit" ? " from 1 to 10000" : ""}`);
			filter[name] = Number(value);
		}
	}
	filter.limit ??= 1000;
	return filter;
}

function base64Field(body: Record<string, unknown>, name: string, maxBytes: number): Uint8Array {
	const value = body?.[name];
	if (typeof value !== "string" || value.length === 0 || value.length % 4 !== 0 || !BASE64.test(value) || value.length > Math.ceil(maxBytes / 3) * 4)
		throw new HttpError(400, `bad-${name}`, `${name} must be base64, at most ${maxBytes} bytes`);
	return new Uint8Array(Buffer.from(value, "base64"));
}

/** A request listener that runs handle and answers the HttpError it throws as JSON (anything else: 500, logged). */
export function answeringErrors(handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>, log: (line: string) => void) {
	return (request: IncomingMessage, response: ServerResponse): void => {
		handle(request, response).catch((error) => {
			if (error instanceof HttpError)
				return writeJson(response, error.status, { error: error.error, ...(error.detail ? { detail: error.detail } : {}) }, error.headers);
			log(`500 ${request.method} ${request.url}: ${(error as Error).stack ?? error}`);
			if (!response.headersSent)
				writeJson(response, 500, { error: "internal-error" });
			else
				response.destroy();
		});
	};
}

/** The ETag of a manifest: the hash of the exact bytes sent to this device (a rollout's devices get theirs). */
export function manifestEtag(body: Uint8Array): string {
	return `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`;
}

/** Whether an If-None-Match value names this strong ETag: a list of entity tags (commas may stand inside a tag's
 * quotes, so tags are matched, not split), compared strongly (a weak W/ tag never matches), or "*" (any current
 * manifest). Anything else, malformed included, does not match: the answer is then the whole manifest. */
export function etagMatches(header: string | string[] | undefined, etag: string): boolean {
	if (typeof header !== "string" || header.length > 4096)
		return false;
	if (header.trim() === "*")
		return true;
	for (const match of header.matchAll(/(W\/)?"[\x21\x23-\x7e\x80-\xff]*"/g))
		if (match[1] === undefined && match[0] === etag)
			return true;
	return false;
}

/** A manifest answer (the server's and a gateway's): 304 with the ETag alone when the request's If-None-Match names
 * it (GET and HEAD alike), else 200 with the bytes (HEAD: the headers). Headers set before (the config hint) ride on
 * either. The 304 carries nothing else: an up-to-date device's poll is a few hundred bytes. */
export function writeManifest(request: IncomingMessage, response: ServerResponse, body: Uint8Array): void {
	const etag = manifestEtag(body);
	if (etagMatches(request.headers[IF_NONE_MATCH_HEADER], etag)) {
		response.writeHead(NOT_MODIFIED, { etag });
		response.end();
		return;
	}
	response.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length, etag, "cache-control": "no-cache" });
	response.end(request.method === "HEAD" ? undefined : body);
}

export function writeJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	const json = JSON.stringify(body);
	response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json), "cache-control": "no-store", ...headers });
	response.end(json);
}

/** The device id each connection's certificate names, read at its first request (./certifiedDevice). */
const certifiedIds = new WeakMap<TLSSocket, string>();

/** The CN of the client certificate the device CA signed (a device's id, or a gateway's); HttpError 401 or 403.
 * Read from the certificate once per connection: the manifest, the reports and the image ranges of a check share one
 * (getPeerCertificate builds the whole certificate as an object, about 0.1 ms a request). A connection's certificate
 * cannot change under it: at its first request its renegotiation is refused from then on (a TLS 1.2 client could
 * otherwise present another certificate in a new handshake on the same socket; the attempt is a socket error, and the
 * HTTP server closes the connection), and TLS 1.3 has no renegotiation. */
export function certifiedDevice(request: IncomingMessage): string {
	const socket = request.socket as TLSSocket;
	if (!socket.authorized)
		throw new HttpError(401, "device-certificate-required", `a client certificate from the fleet's device CA is required (${socket.authorizationError ?? "none presented"})`);
	const known = certifiedIds.get(socket);
	if (known !== undefined)
		return known;
	socket.disableRenegotiation();
	const cn = socket.getPeerCertificate().subject?.CN;
	const deviceId = Array.isArray(cn) ? undefined : cn;
	if (!deviceId || !DEVICE_ID.test(deviceId))
		throw new HttpError(403, "bad-device-certificate", "the certificate's CN is not a device id");
	certifiedIds.set(socket, deviceId);
	return deviceId;
}

/** A request's JSON body, at most maxBytes, as application/json. */
export async function readJson(request: IncomingMessage, maxBytes: number): Promise<unknown> {
	const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
	if (type !== "application/json")
		throw new HttpError(415, "unsupported-media-type", "send application/json");
	const declared = Number(request.headers["content-length"] ?? NaN);
	if (declared > maxBytes)
		throw new HttpError(413, "too-large", `at most ${maxBytes} bytes`);
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of request) {
		size += (chunk as Buffer).length;
		if (size > maxBytes)
			throw new HttpError(413, "too-large", `at most ${maxBytes} bytes`, { connection: "close" });
		chunks.push(chunk as Buffer);
	}
	try {
		return JSON.parse(Buffer.concat(chunks).toString("utf8"));
	} catch {
		throw new HttpError(400, "malformed-json", "the body is not JSON");
	}
}
