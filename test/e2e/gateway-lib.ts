// Helpers shared by the gateway tests (test/node/gateway.test.ts, test/e2e/gateway*.test.ts): waiting for a condition,
// a request to a gateway as a device, and the headers a test proxy passes on between a gateway and its upstream.
import { request } from "node:https";
import type { World } from "../../tools/demo/world.js";
import type { GatewaySite } from "../../tools/demo/gateway-site.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";
import { CONFIG_HEADER, GATEWAY_FOR_HEADER, GATEWAY_VIA_HEADER, VERSION_HEADER } from "../../modules/fota/protocol.js";
import type { Exchange } from "./hostile.js";

/** Resolves with probe's first truthy value (asked every 100 ms); throws naming `what` after ms. */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
	const deadline = Date.now() + ms;
	for (;;) {
		const value = await probe();
		if (value !== undefined && value !== false)
			return value;
		if (Date.now() > deadline)
			throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

/** A request to a gateway as a device (its own certificate from the world's device CA). */
export function asDevice(site: GatewaySite, w: World, device: string, path: string, options: { method?: string; headers?: Record<string, string>; json?: unknown } = {}): Promise<{ status: number; body: Buffer; headers: Record<string, string | string[] | undefined> }> {
	const identity = makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId: device });
	const body = options.json === undefined ? undefined : JSON.stringify(options.json);
	return new Promise((resolve, reject) => {
		const outgoing = request(`${site.url}${path}`, { method: options.method ?? "GET", ca: site.localCa, key: identity.key, cert: identity.cert, agent: false,
			headers: { ...(body ? { "content-type": "application/json" } : {}), ...options.headers } }, (response) => {
			const chunks: Buffer[] = [];
			response.on("data", (chunk: Buffer) => chunks.push(chunk));
			response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), headers: response.headers }));
			response.on("error", reject);
		});
		outgoing.on("error", reject);
		outgoing.end(body);
	});
}

/** The request headers a test proxy passes on: the ranges, and the gateway's and the device's own. */
export function gatewayHeaders(exchange: Exchange): Record<string, string> {
	const kept: Record<string, string> = {};
	for (const name of ["range", "if-range", "if-none-match", "content-type", GATEWAY_FOR_HEADER, GATEWAY_VIA_HEADER, VERSION_HEADER, CONFIG_HEADER])
		if (exchange.headers[name] !== undefined)
			kept[name] = exchange.headers[name]!;
	return kept;
}

/** Whether every device runs `version` and is valid at the cloud (its reports arrived). */
export async function allValidAtCloud(w: World, ids: string[], version: string): Promise<boolean> {
	for (const id of ids) {
		const device = await w.store.device(id);
		if (device?.version !== version || device.state !== "valid")
			return false;
	}
	return true;
}
