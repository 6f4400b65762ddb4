// What a gateway may do at the management server, and no more. A gateway is a client with its own certificate from
// the fleet's device CA (its CN is its id, checked and not revoked by the server before anything here runs). It may act
// for a device only when the device is registered behind it (an admin's decision: `xs-fota gateways register`), and a
// chain of gateways only link by link: the device behind the first gateway named in x-fota-via, that one behind the
// next, ..., the last behind the gateway that holds the connection. Every id in the chain must be unrevoked. The
// reports a gateway stored and forwards (POST /v1/gateway/reports) are checked the same way, item by item, and taken
// once each: the gateway's cursor (the last seq taken) moves in the report's own transaction (./store/gateways.ts).
import type { IncomingHttpHeaders } from "node:http";
import { GATEWAY_FOR_HEADER, GATEWAY_VIA_HEADER, MAX_GATEWAY_BATCH, MAX_GATEWAY_VIA, type ForwardedResult } from "../../modules/fota/protocol.js";
import { DuplicateForward } from "./store/gateways.js";
import type { DeviceReport, FleetStore } from "./store/store.js";

const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;

export type Refusal = { status: number; error: string; detail: string };
export type Acting = { ok: true; deviceId: string; via: string[] } | ({ ok: false } & Refusal);

/** The ids of an x-fota-via header (comma-separated, nearest the device first), or a refusal. */
export function parseVia(value: string | string[] | undefined): string[] | Refusal {
	if (value === undefined || value === "")
		return [];
	const text = Array.isArray(value) ? value.join(",") : value;
	if (text.length > (MAX_GATEWAY_VIA + 1) * 65)
		return { status: 400, error: "bad-gateway-chain", detail: `${GATEWAY_VIA_HEADER} is too long` };
	const via = text.split(",").map((part) => part.trim());
	if (via.length > MAX_GATEWAY_VIA || via.some((id) => !DEVICE_ID.test(id)))
		return { status: 400, error: "bad-gateway-chain", detail: `${GATEWAY_VIA_HEADER} must name 1 to ${MAX_GATEWAY_VIA} gateway ids` };
	return via;
}

/** Whether the gateway holding the connection may act for the device through the gateways `via`: undefined when it
 * may, else why not. The gateway itself was authenticated and checked for revocation by the caller. */
export async function authorizeChain(store: FleetStore, gatewayId: string, deviceId: string, via: readonly string[]): Promise<Refusal | undefined> {
	const chain = [deviceId, ...via, gatewayId];
	if (new Set(chain).size !== chain.length)
		return { status: 400, error: "bad-gateway-chain", detail: `an id appears twice in the chain ${chain.join(" > ")}` };
	for (const id of chain.slice(0, -1))
		if (await store.isRevoked(id))
			return { status: 403, error: "revoked", detail: `device ${id} is revoked` };
	for (let i = 0; i + 1 < chain.length; i++) {
		const registered = await store.gateways.gatewayOf(chain[i]!);
		if (registered !== chain[i + 1])
			return { status: 403, error: "not-behind-gateway", detail: `${chain[i]} is not registered behind gateway ${chain[i + 1]}` };
	}
	return undefined;
}

/** The device a device request acts for: the certificate's own id, or, when it names one in x-fota-for, the device
 * that the certificate's gateway may act for (authorizeChain). */
export async function actingDevice(store: FleetStore, certified: string, headers: IncomingHttpHeaders): Promise<Acting> {
	const named = headers[GATEWAY_FOR_HEADER];
	if (named === undefined)
		return { ok: true, deviceId: certified, via: [] };
	if (typeof named !== "string" || !DEVICE_ID.test(named))
		return { ok: false, status: 400, error: "bad-gateway-chain", detail: `${GATEWAY_FOR_HEADER} must be one device id` };
	const via = parseVia(headers[GATEWAY_VIA_HEADER]);
	if (!Array.isArray(via))
		return { ok: false, ...via };
	const refusal = await authorizeChain(store, certified, named, via);
	return refusal ? { ok: false, ...refusal } : { ok: true, deviceId: named, via };
}

export interface ForwardContext {
	/** validates one report for a device (the server's own report checks); throws with a message naming the field */
	parse(report: unknown, deviceId: string): DeviceReport;
	historyLimit: number;
	/** ms since 1970: a report's time is the gateway's, never later than this */
	now(): number;
	/** after a report is stored (the rollouts judge it) */
	stored(report: DeviceReport, at: Date): Promise<void>;
	log(line: string): void;
}

/** The forwarded batch, checked for shape before any item is taken; a refusal for a malformed batch. */
export function parseForwardedBatch(body: unknown): { seq: number; deviceId: string; via: string[]; at: number; report: unknown }[] | Refusal {
	const bad = (detail: string): Refusal => ({ status: 400, error: "bad-batch", detail });
	if (typeof body !== "object" || body === null || Array.isArray(body) || Object.keys(body).some((key) => key !== "reports"))
		return bad("the body must be {reports: [...]}");
	const reports = (body as { reports: unknown }).reports;
	if (!Array.isArray(reports) || reports.length > MAX_GATEWAY_BATCH)
		return bad(`reports must be an array of at most ${MAX_GATEWAY_BATCH}`);
	const items = [];
	let previous = 0;
	for (const [index, item] of reports.entries()) {
		if (typeof item !== "object" || item === null || Array.isArray(item))
			return bad(`reports[${index}] must be an object`);
		const { seq, deviceId, via, at, report, ...rest } = item as Record<string, unknown>;
		if (Object.keys(rest).length > 0)
			return bad(`reports[${index}].${Object.keys(rest)[0]} is not a field`);
		if (!Number.isSafeInteger(seq) || (seq as number) <= previous)
			return bad(`reports[${index}].seq must be an integer above the one before it`);
		if (typeof deviceId !== "string" || !DEVICE_ID.test(deviceId))
			return bad(`reports[${index}].deviceId must be a device id`);
		if (!Array.isArray(via) || via.length > MAX_GATEWAY_VIA || via.some((id) => typeof id !== "string" || !DEVICE_ID.test(id)))
			return bad(`reports[${index}].via must be at most ${MAX_GATEWAY_VIA} gateway ids`);
		if (!Number.isSafeInteger(at) || (at as number) < 0)
			return bad(`reports[${index}].at must be ms since 1970`);
		previous = seq as number;
		items.push({ seq: seq as number, deviceId, via: via as string[], at: at as number, report });
	}
	return items;
}

/** Takes a gateway's forwarded reports, in order: each is stored once (duplicate when its seq was taken before),
 * refused for good when the gateway may not act for its device or the report is bad, and the batch stops at the first
 * that fails otherwise (the database, say): the gateway sends the rest again. */
export async function takeForwarded(store: FleetStore, gatewayId: string, body: unknown, context: ForwardContext): Promise<{ ok: true; results: ForwardedResult[] } | ({ ok: false } & Refusal)> {
	const items = parseForwardedBatch(body);
	if (!Array.isArray(items))
		return { ok: false, ...items };
	const results: ForwardedResult[] = [];
	const last = await store.gateways.lastSeq(gatewayId);
	for (const item of items) {
		if (item.seq <= last) {
			results.push({ seq: item.seq, status: "duplicate" });
			continue;
		}
		const refusal = await authorizeChain(store, gatewayId, item.deviceId, item.via);
		let report: DeviceReport | undefined;
		let error = refusal ? `${refusal.error}: ${refusal.detail}` : undefined;
		if (!error) {
			try {
				report = context.parse(item.report, item.deviceId);
			} catch (parseError) {
				error = `bad-report: ${(parseError as Error).message}`;
			}
		}
		if (error || !report) {
			await store.gateways.skip(gatewayId, item.seq);
			context.log(`gateway ${gatewayId}: report ${item.seq} for ${item.deviceId} refused: ${error}`);
			results.push({ seq: item.seq, status: "refused", error: error! });
			continue;
		}
		const at = new Date(Math.min(item.at, context.now()));
		try {
			await store.recordReport(report, at, context.historyLimit, (trx) => store.gateways.advance(trx, gatewayId, item.seq));
		} catch (storeError) {
			if (storeError instanceof DuplicateForward) {
				results.push({ seq: item.seq, status: "duplicate" });
				continue;
			}
			context.log(`gateway ${gatewayId}: report ${item.seq} for ${item.deviceId} not stored, the rest of the batch waits: ${(storeError as Error).message}`);
			break;
		}
		results.push({ seq: item.seq, status: "stored" });
		await context.stored(report, at);
	}
	return { ok: true, results };
}
