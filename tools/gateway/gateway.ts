// The gateway (`xs-fota gateway`): an update server to the devices behind it and a client of its upstream (the cloud
// server, or another gateway), so that devices that never reach the cloud still update, each image crossing the
// upstream link once.
//   To its devices, on its own HTTPS port with its own certificate, it speaks the device routes of
//   modules/fota/protocol.ts and asks each client for a certificate from the fleet's device CA (mutual TLS):
//     GET  /v1/products/<p>/manifest  asked of the upstream on the device's behalf (x-fota-for; a child gateway's chain
//                                     in x-fota-via), verified with the product's keys, and passed on byte for byte;
//                                     when the upstream cannot be reached, the last manifest it gave for that device;
//                                     304 when the device's If-None-Match names the manifest's ETag (either way). The
//                                     upstream is asked conditionally on the gateway's own copy for the device: its
//                                     304 (with the config hint) means that copy is still the device's manifest
//     GET  /v1/products/<p>/<file>    the image of the device's manifest, only once it is in the cache and verified
//                                     (503 + Retry-After while it is fetched), with Range, ETag and If-Range, and the
//                                     server's download limit (tools/server/admission.ts)
//     GET  /v1/devices/<id>/config    the device's config document, asked of the upstream on its behalf and passed on
//                                     byte for byte (the device verifies it; 503 while the upstream is away); the
//                                     upstream's x-fota-config-pending hint rides on the manifest answer
//     POST /v1/devices/<id>/report    checked as the server checks it, stored in the queue (on the disk), then 204
//     POST /v1/gateway/reports        a child gateway's stored reports: queued here in turn, each once
//   Upstream it forwards the queue in order and in batches, and asks again for every known device's manifest every
//   syncSeconds, fetching what they will need, so that an upstream cut finds the cache ready.
// The cloud decides which manifest each device gets and whether this gateway may act for it; the device still checks
// the vendor's signature itself, so a gateway cannot install anything the vendor did not sign.
import { mkdirSync, realpathSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { writeRangeHead } from "../server/serve-range.js";
import { DownloadGate } from "../server/admission.js";
import { readRange } from "../server/files.js";
import { answeringErrors, certifiedDevice, HttpError, manifestEtag, MAX_REPORT_BYTES, parseReport, readJson, writeJson, writeManifest } from "../server/server.js";
import { parseForwardedBatch, parseVia } from "../server/gateway-authority.js";
import { checkRelease } from "../release/check.js";
import { ImageCache } from "./cache.js";
import type { GatewayConfig } from "./config.js";
import { GatewayState, type LocalDevice } from "./state.js";
import { Upstream, UpstreamUnreachable, type Answer } from "./upstream.js";
import { SelfUpdater } from "./self-update.js";
import {
	CONFIG_HEADER, CONFIG_PENDING_HEADER, configPath, deviceRoute, GATEWAY_FOR_HEADER, GATEWAY_PREFETCH_HEADER, GATEWAY_VIA_HEADER, gatewayReportsPath, IF_NONE_MATCH_HEADER, manifestPath, MAX_GATEWAY_BATCH, MAX_GATEWAY_BATCH_BYTES,
	NOT_MODIFIED, VERSION_HEADER, type ForwardedResult,
} from "../../modules/fota/protocol.js";
import { MAX_MANIFEST_BYTES, type UpdateManifest } from "../../modules/fota/manifest.js";
import { MAX_CONFIG_DOC_BYTES } from "../../modules/fota/envelope.js";

const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** What a relayed error answer may carry, bytes. */
const MAX_RELAYED_BYTES = 4096;
/** The Retry-After told a device while its image is fetched, or while the upstream is away and nothing is cached, s. */
const RETRY_FETCHING = 2;
const RETRY_UNREACHABLE = 10;

/** Who asks: the client's certificate (a device, or a child gateway acting for one) and the device it acts for. */
interface Asker {
	client: string;
	deviceId: string;
	/** the gateways between the device and this one, nearest the device first (the client last, when it is a gateway) */
	via: string[];
}

export interface GatewayOptions {
	config: GatewayConfig;
	log?: (line: string) => void;
	/** the version of the gateway's own software this process runs (default: config.self.installed) */
	version?: string;
	/** with config.self: called when a new version of the gateway is pending (the CLI closes and exits for its launcher) */
	restart?: () => void;
}

export class Gateway {
	readonly config: GatewayConfig;
	readonly #log: (line: string) => void;
	readonly #server: Server;
	readonly gate: DownloadGate;
	state!: GatewayState;
	cache!: ImageCache;
	upstream!: Upstream;
	/** image body bytes served to local clients */
	servedBytes = 0;
	#timers: ReturnType<typeof setTimeout>[] = [];
	#closed = false;
	#forwarding: Promise<void> | undefined;
	#forwardAgain = false;
	#backoffMs = 0;
	#syncing: Promise<void> | undefined;
	readonly #options: GatewayOptions;
	/** the gateway's own updates, with config.self */
	self: SelfUpdater | undefined;

	constructor(options: GatewayOptions) {
		this.#options = options;
		this.config = options.config;
		this.#log = options.log ?? (() => {});
		this.gate = new DownloadGate({ limit: this.config.maxDownloads });
		this.#server = createServer({ cert: this.config.listen.cert, key: this.config.listen.key, ca: this.config.listen.deviceCa, requestCert: true, rejectUnauthorized: false },
			answeringErrors((request, response) => this.#handle(request, response), this.#log));
		this.#server.keepAliveTimeout = 5000;
	}

	/** Opens the state and the cache (re-verifying it), listens, and starts forwarding and syncing. */
	async start(): Promise<{ port: number; url: string }> {
		mkdirSync(this.config.state, { recursive: true });
		this.state = await GatewayState.open(join(this.config.state, "state.db"));
		this.upstream = new Upstream({ ...this.config.upstream, timeoutSeconds: this.config.timeoutSeconds });
		this.cache = new ImageCache({ dir: this.config.state, state: this.state, upstream: this.upstream, maxBytes: this.config.cacheBytes, log: this.#log });
		await this.cache.open();
		const { host, port } = this.config.listen;
		const address = await new Promise<{ port: number; url: string }>((resolve, reject) => {
			this.#server.once("error", reject);
			this.#server.listen(port, host, 2048, () => {
				const bound = (this.#server.address() as AddressInfo).port;
				resolve({ port: bound, url: `https://${host === "127.0.0.1" ? "localhost" : host}:${bound}` });
			});
		});
		this.#log(`gateway ${this.config.id}: serving at ${address.url}, upstream ${this.config.upstream.url}, ${await this.state.queued()} reports queued`);
		void this.forward();
		if (this.config.syncSeconds > 0)
			this.#every(this.config.syncSeconds * 1000, () => this.sync());
		if (this.config.self) {
			this.self = new SelfUpdater({ config: this.config, version: this.#options.version ?? this.config.self.installed, upstream: this.upstream, cache: this.cache,
				nodeModules: realpathSync(fileURLToPath(new URL("../../../../node_modules", import.meta.url))), log: this.#log,
				restart: this.#options.restart ?? (() => this.#log("self-update: a new version is pending; restart the gateway to apply it")) });
			const check = () => this.self!.check().catch((error) => this.#log(`self-update: ${(error as Error).message}`));
			void check();
			this.#every(Math.max(1, this.config.syncSeconds) * 1000, check);
		}
		return address;
	}

	async close(): Promise<void> {
		this.#closed = true;
		for (const timer of this.#timers)
			clearTimeout(timer);
		await new Promise<void>((resolve) => {
			this.#server.closeAllConnections();
			this.#server.close(() => resolve());
		});
		this.upstream?.close();
		await this.#forwarding?.catch(() => {});
		await this.#syncing?.catch(() => {});
		await this.state?.close();
	}

	#every(ms: number, fn: () => Promise<void> | void): void {
		const run = () => {
			if (this.#closed)
				return;
			Promise.resolve(fn()).catch((error) => this.#log(`gateway: ${(error as Error).message}`)).finally(() => {
				if (!this.#closed)
					this.#timers.push(setTimeout(run, ms));
			});
		};
		this.#timers.push(setTimeout(run, ms));
	}

	async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const url = new URL(request.url ?? "/", "https://gateway");
		const client = certifiedDevice(request); // its certificate from the device CA: a device, or a child gateway
		if (url.pathname === gatewayReportsPath() && request.method === "POST")
			return this.#forwarded(request, response, client);
		const route = deviceRoute(request.method ?? "", url.pathname);
		if (!route)
			throw new HttpError(404, "not-found", `${request.method} ${url.pathname}`);
		const asker = this.#asker(request, client);
		if (route.kind === "report")
			return this.#report(request, response, asker, route.deviceId);
		if (route.kind === "config")
			return this.#config(response, asker, route.deviceId, request.headers[CONFIG_HEADER]);
		if (!this.config.products.has(route.product))
			throw new HttpError(404, "not-found", `this gateway serves no product ${route.product}`);
		if (route.kind === "manifest")
			return this.#manifest(request, response, route.product, asker);
		return this.#image(request, response, route.product, route.name, asker);
	}

	/** The device a request is for: the client itself, or the device a child gateway names (its chain then ends with it). */
	#asker(request: IncomingMessage, client: string): Asker {
		const named = request.headers[GATEWAY_FOR_HEADER];
		if (named === undefined)
			return { client, deviceId: client, via: [] };
		if (typeof named !== "string" || !DEVICE_ID.test(named) || named === client)
			throw new HttpError(400, "bad-gateway-chain", `${GATEWAY_FOR_HEADER} must name one other device`);
		const via = parseVia(request.headers[GATEWAY_VIA_HEADER]);
		if (!Array.isArray(via))
			throw new HttpError(via.status, via.error, via.detail);
		return { client, deviceId: named, via: [...via, client] };
	}

	/** The headers that ask the upstream on the device's behalf. */
	#behalf(asker: Asker): [string, string][] {
		return [[GATEWAY_FOR_HEADER, asker.deviceId], ...(asker.via.length ? [[GATEWAY_VIA_HEADER, asker.via.join(",")] as [string, string]] : [])];
	}

	/** Asks the upstream for the device's manifest; verifies one that comes and records it (and starts fetching its
	 * image). The upstream's answer, or UpstreamUnreachable. */
	async #ask(product: string, asker: Asker, version: string | undefined, prefetch = false, configSequence?: string): Promise<{ answer: Answer; manifest?: UpdateManifest }> {
		const headers = this.#behalf(asker);
		if (version !== undefined && !prefetch)
			headers.push([VERSION_HEADER, version]);
		if (configSequence !== undefined && !prefetch)
			headers.push([CONFIG_HEADER, configSequence]);
		if (prefetch) // not the device's own check: the cloud records none (its last-seen time and version stay the device's)
			headers.push([GATEWAY_PREFETCH_HEADER, "1"]);
		// conditionally on the copy this gateway holds for the device (through the same chain): a 304 says it is current
		const known = await this.state.device(asker.deviceId);
		const held = known?.manifest && known.product === product && known.via.join(",") === asker.via.join(",") ? Buffer.from(known.manifest) : undefined;
		const heldEtag = held ? manifestEtag(held) : undefined;
		if (heldEtag !== undefined)
			headers.push([IF_NONE_MATCH_HEADER, heldEtag]);
		const askedAt = Date.now();
		let answer = await this.upstream.fetch(manifestPath(product), { headers, maxBytes: MAX_MANIFEST_BYTES, deadlineMs: this.config.timeoutSeconds * 2000 });
		if (answer.status >= 500 && answer.status !== 503)
			throw new UpstreamUnreachable(`the upstream answered ${answer.status} for ${asker.deviceId}'s manifest`);
		if (answer.status === NOT_MODIFIED) {
			// only the answer to the ETag asked about says anything; any other 304 is the upstream's fault
			const named = answer.headers["etag"];
			if (!held || (named !== undefined && named !== heldEtag))
				throw new UpstreamUnreachable(`the upstream answered 304 for ${asker.deviceId}'s manifest, which was not asked for that ETag`);
			answer = { ...answer, status: 200, body: held }; // the held copy, verified again below as a fresh one would be
		}
		const seen = { product, version: prefetch ? undefined : version, via: asker.via };
		if (answer.status !== 200) {
			// no release (404), not this gateway's device or revoked (403): nothing cached is served for it any more;
			// a maintenance window (503) keeps what it had
			await this.state.saw(asker.deviceId, seen, answer.status === 404 || answer.status === 403 ? null : undefined, askedAt);
			return { answer };
		}
		const checked = checkRelease(new Uint8Array(answer.body), undefined, this.config.products.get(product)!, { product, plainImageName: true });
		if (!checked.ok)
			throw new HttpError(502, "bad-upstream-manifest", `the upstream's manifest for ${asker.deviceId} does not verify (${checked.reason}: ${checked.detail}); not passed on`);
		await this.state.saw(asker.deviceId, seen, { bytes: new Uint8Array(answer.body), url: checked.manifest.image.url, sha256: checked.manifest.image.sha256 }, askedAt);
		this.#prefetch(product, checked.manifest, asker);
		return { answer, manifest: checked.manifest };
	}

	#prefetch(product: string, manifest: UpdateManifest, asker: Asker): void {
		if (!this.cache.ready(manifest.image.sha256))
			this.cache.ensure(product, manifest, `/v1/products/${encodeURIComponent(product)}/${encodeURIComponent(manifest.image.url)}`, asker).catch(() => {});
	}

	async #manifest(request: IncomingMessage, response: ServerResponse, product: string, asker: Asker): Promise<void> {
		const named = request.headers[VERSION_HEADER];
		const version = typeof named === "string" && /^[\x21-\x7e]{1,128}$/.test(named) ? named : undefined;
		// a child gateway asking ahead is passed on as asking ahead
		const prefetch = asker.via.length > 0 && request.headers[GATEWAY_PREFETCH_HEADER] !== undefined;
		const config = request.headers[CONFIG_HEADER];
		let asked;
		try {
			asked = await this.#ask(product, asker, version, prefetch, typeof config === "string" && /^(0|[1-9][0-9]{0,15})$/.test(config) ? config : undefined);
		} catch (error) {
			if (!(error instanceof UpstreamUnreachable))
				throw error;
			// the upstream is away: the last manifest it gave this device, through the same chain
			const known = await this.state.device(asker.deviceId);
			if (!known?.manifest || known.product !== product || known.via.join(",") !== asker.via.join(","))
				throw new HttpError(503, "upstream-unreachable", `no manifest for ${asker.deviceId} is cached and the upstream cannot be reached`, { "retry-after": String(RETRY_UNREACHABLE) });
			if (version !== undefined && version !== known.version)
				await this.state.saw(asker.deviceId, { product, version, via: asker.via });
			this.#log(`manifest for ${asker.deviceId} from the cache: ${(error as Error).message}`);
			return this.#sendManifest(request, response, Buffer.from(known.manifest));
		}
		const { answer } = asked;
		// the upstream's hint of a config document for the device: passed on (the device verifies the document)
		const pending = answer.headers[CONFIG_PENDING_HEADER];
		if (pending !== undefined && /^[1-9][0-9]{0,15}$/.test(pending))
			response.setHeader(CONFIG_PENDING_HEADER, pending);
		if (answer.status === 200)
			return this.#sendManifest(request, response, answer.body);
		// the upstream's refusal, relayed as it came (bounded)
		const headers: Record<string, string> = { "content-type": "application/json", "cache-control": "no-store" };
		if (answer.headers["retry-after"] && /^\d{1,6}$/.test(answer.headers["retry-after"]))
			headers["retry-after"] = answer.headers["retry-after"];
		response.writeHead(answer.status, headers);
		response.end(answer.body.subarray(0, MAX_RELAYED_BYTES));
	}

	/** GET /v1/devices/<id>/config: the upstream's answer for the device, passed on unchanged; 503 while it is away. */
	async #config(response: ServerResponse, asker: Asker, named: string, sequence: string | string[] | undefined): Promise<void> {
		if (named !== asker.deviceId)
			throw new HttpError(403, "not-yourself", `device ${asker.deviceId} cannot fetch the config of ${named}`);
		const headers = this.#behalf(asker);
		if (typeof sequence === "string" && /^(0|[1-9][0-9]{0,15})$/.test(sequence))
			headers.push([CONFIG_HEADER, sequence]);
		let answer;
		try {
			answer = await this.upstream.fetch(configPath(asker.deviceId), { headers, maxBytes: MAX_CONFIG_DOC_BYTES, deadlineMs: this.config.timeoutSeconds * 2000 });
		} catch (error) {
			if (!(error instanceof UpstreamUnreachable))
				throw error;
			throw new HttpError(503, "upstream-unreachable", `the config document of ${asker.deviceId} is asked of the upstream, which cannot be reached`, { "retry-after": String(RETRY_UNREACHABLE) });
		}
		const type = answer.status === 200 ? "application/octet-stream" : "application/json";
		response.writeHead(answer.status, { "content-type": type, "cache-control": "no-store" });
		response.end(answer.status === 204 ? undefined : answer.body.subarray(0, answer.status === 200 ? MAX_CONFIG_DOC_BYTES : MAX_RELAYED_BYTES));
	}

	/** The manifest as the server sends it: 304 when the device's If-None-Match names it (tools/server/server.ts). */
	#sendManifest(request: IncomingMessage, response: ServerResponse, body: Buffer): void {
		writeManifest(request, response, body);
	}

	async #image(request: IncomingMessage, response: ServerResponse, product: string, name: string, asker: Asker): Promise<void> {
		const known = await this.state.device(asker.deviceId);
		if (!known?.manifest || known.product !== product || known.imageUrl !== name || known.via.join(",") !== asker.via.join(","))
			throw new HttpError(404, "not-found", `no image ${name} in the manifest ${asker.deviceId} was given`);
		const sha256 = known.imageSha256!;
		if (!this.cache.ready(sha256)) {
			const checked = checkRelease(known.manifest, undefined, this.config.products.get(product)!, { product });
			if (checked.ok)
				this.#prefetch(product, checked.manifest, asker);
			const failure = this.cache.failures.get(sha256);
			throw new HttpError(503, "fetching", `the image is being fetched and verified${failure ? ` (last try: ${failure})` : ""}`, { "retry-after": String(RETRY_FETCHING) });
		}
		let release = () => {};
		if (request.method !== "HEAD") {
			const admission = this.gate.enter(asker.deviceId);
			if (!admission.admitted)
				throw new HttpError(503, "busy", `${this.gate.limit} downloads are running; ${admission.position} devices wait before this one`,
					{ "retry-after": String(admission.retryAfterSeconds) });
			release = admission.release;
		}
		const done = this.cache.use(sha256);
		response.once("close", () => {
			release();
			done();
		});
		const path = this.cache.path(sha256);
		const answer = writeRangeHead(request, response, statSync(path).size, `"${sha256.slice(0, 32)}"`); // the server's ETag
		if (!answer)
			return;
		for (const piece of readRange(path, answer.start, answer.end)) {
			if (response.destroyed)
				return;
			if (!response.write(piece))
				await new Promise((resolve) => { response.once("drain", resolve); response.once("close", resolve); });
			this.servedBytes += piece.length;
		}
		response.end();
	}

	async #report(request: IncomingMessage, response: ServerResponse, asker: Asker, named: string): Promise<void> {
		if (asker.via.length > 0)
			throw new HttpError(400, "use-batches", `a gateway forwards reports with POST ${gatewayReportsPath()}`);
		if (named !== asker.deviceId)
			throw new HttpError(403, "not-yourself", `device ${asker.deviceId} cannot report as ${named}`);
		await this.#roomInQueue(1);
		const body = await readJson(request, MAX_REPORT_BYTES);
		let report;
		try {
			report = parseReport(body, asker.deviceId);
		} catch (error) {
			const refused = error as { status?: number; error?: string; detail?: string };
			throw new HttpError(refused.status ?? 400, refused.error ?? "bad-report", refused.detail ?? (error as Error).message);
		}
		const { deviceId, ...fields } = report;
		await this.state.enqueue([{ deviceId, via: [], at: Date.now(), report: fields }]);
		await this.state.saw(deviceId, { product: report.product, version: report.version, via: [] });
		this.#log(`report ${deviceId}: ${report.state} ${report.version}${report.error ? ` (${report.error})` : ""}, queued`);
		response.writeHead(204);
		response.end();
		void this.forward();
	}

	/** The queue is bounded (config maxQueued): when it is full, a report is not taken (503: the device keeps it and
	 * sends it again later), so no client can fill the gateway's disk while the upstream is away. */
	async #roomInQueue(reports: number): Promise<void> {
		if ((await this.state.queued()) + reports > this.config.maxQueued)
			throw new HttpError(503, "queue-full", `${this.config.maxQueued} reports wait for the upstream already`, { "retry-after": String(RETRY_UNREACHABLE * 6) });
	}

	/** A child gateway's batch: each report queued here once (its seq above the last taken from that gateway). */
	async #forwarded(request: IncomingMessage, response: ServerResponse, client: string): Promise<void> {
		await this.#roomInQueue(MAX_GATEWAY_BATCH);
		const items = parseForwardedBatch(await readJson(request, MAX_GATEWAY_BATCH_BYTES));
		if (!Array.isArray(items))
			throw new HttpError(items.status, items.error, items.detail);
		const last = await this.state.lastSeqFrom(client);
		const results: ForwardedResult[] = [];
		const taken = [];
		for (const item of items) {
			if (item.seq <= last) {
				results.push({ seq: item.seq, status: "duplicate" });
				continue;
			}
			try {
				const { deviceId, ...fields } = parseReport(item.report, item.deviceId);
				taken.push({ deviceId, via: [...item.via, client], at: Math.min(item.at, Date.now()), report: fields });
				results.push({ seq: item.seq, status: "stored" });
			} catch (error) {
				results.push({ seq: item.seq, status: "refused", error: `bad-report: ${(error as Error).message}` });
			}
		}
		const newest = items.at(-1)?.seq;
		await this.state.enqueue(taken, newest !== undefined && newest > last ? { sender: client, seq: newest } : undefined);
		writeJson(response, 200, { results });
		void this.forward();
	}

	/** Forwards the queue upstream, in order, a batch at a time, until it is empty or the upstream is away (then again
	 * after a back-off). Safe to call often: one run at a time. Resolves when this run ends. */
	forward(): Promise<void> {
		if (this.#closed)
			return Promise.resolve();
		if (this.#forwarding) {
			this.#forwardAgain = true;
			return this.#forwarding;
		}
		this.#forwarding = this.#drain().finally(() => {
			this.#forwarding = undefined;
			if (this.#closed)
				return;
			if (this.#forwardAgain && this.#backoffMs === 0) {
				this.#forwardAgain = false;
				this.forward();
			} else if (this.#backoffMs > 0) {
				this.#forwardAgain = false;
				this.#timers.push(setTimeout(() => void this.forward(), this.#backoffMs));
			}
		});
		return this.#forwarding;
	}

	async #drain(): Promise<void> {
		while (!this.#closed) {
			const batch = await this.state.oldest(this.config.batchSize);
			if (batch.length === 0) {
				this.#backoffMs = 0;
				return;
			}
			let results: ForwardedResult[];
			try {
				const answer = await this.upstream.fetch(gatewayReportsPath(), { method: "POST", headers: [["content-type", "application/json"]],
					body: JSON.stringify({ reports: batch }), maxBytes: 64 * 1024, deadlineMs: this.config.timeoutSeconds * 3000 });
				if (answer.status !== 200)
					throw new Error(`the upstream answered ${answer.status}: ${answer.body.subarray(0, 300).toString()}`);
				results = (JSON.parse(answer.body.toString()) as { results: ForwardedResult[] }).results;
				if (!Array.isArray(results))
					throw new Error("the upstream's answer has no results");
			} catch (error) {
				this.#backoffMs = Math.min(30000, Math.max(500, this.#backoffMs * 2));
				this.#log(`forward ${batch.length} reports: ${(error as Error).message}; again in ${this.#backoffMs} ms`);
				return;
			}
			const sent = new Set(batch.map((item) => item.seq));
			const answered = results.filter((result) => sent.has(result.seq));
			for (const result of answered)
				if (result.status === "refused")
					this.#log(`forward: report ${result.seq} refused by the upstream for good: ${result.error}`);
			await this.state.dequeue(answered.map((result) => result.seq));
			this.#log(`forwarded ${answered.length} of ${batch.length} reports (${answered.filter((result) => result.status === "stored").length} stored)`);
			if (answered.length < batch.length) { // the upstream stopped part way: the rest after a back-off
				this.#backoffMs = Math.min(30000, Math.max(500, this.#backoffMs * 2));
				return;
			}
			this.#backoffMs = 0;
		}
	}

	/** Reports not yet forwarded. */
	queued(): Promise<number> {
		return this.state.queued();
	}

	/** Asks the upstream again for every known device's manifest (a few at a time) and fetches the images they name. */
	sync(): Promise<void> {
		// one run at a time, and a call made during a run gets a run of its own after it (it sees what changed since)
		const previous = this.#syncing ?? Promise.resolve();
		const run: Promise<void> = this.#syncing = previous.then(async () => {
			const devices = await this.state.devices();
			let next = 0;
			const worker = async () => {
				while (next < devices.length && !this.#closed) {
					const device = devices[next++]!;
					await this.#syncOne(device).catch((error) => this.#log(`sync ${device.deviceId}: ${(error as Error).message}`));
				}
			};
			await Promise.all([worker(), worker(), worker(), worker()]);
		}).finally(() => {
			if (this.#syncing === run)
				this.#syncing = undefined;
		});
		return run;
	}

	async #syncOne(device: LocalDevice): Promise<void> {
		if (!this.config.products.has(device.product))
			return;
		const client = device.via.at(-1) ?? device.deviceId;
		await this.#ask(device.product, { client, deviceId: device.deviceId, via: device.via }, undefined, true);
	}
}
