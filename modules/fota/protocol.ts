// The HTTP surface between a device and the update server, in one typed place that both import: the client builds
// its URLs here, the server routes by the same shapes, and the states a device reports are listed once.
//   GET  /v1/products/<product>/manifest      the signed manifest meant for this device (mutual TLS names it)
//   GET  /v1/products/<product>/<file>        a release's image, with Range, ETag and If-Range
//   POST /v1/devices/<device id>/report       a check-in: the running version, the state, the last error
//   GET  /v1/devices/<device id>/config       the signed config document waiting for this device (204: none)
export const API_PREFIX = "/v1";

/** Bounds on what a server may send before a response's body, which every transport enforces: more is an error,
 * not an allocation. */
export const MAX_HEADERS = 64;
export const MAX_HEADER_BYTES = 8192;

export function manifestPath(product: string): string {
	return `${API_PREFIX}/products/${encodeURIComponent(product)}/manifest`;
}

export function reportPath(deviceId: string): string {
	return `${API_PREFIX}/devices/${encodeURIComponent(deviceId)}/report`;
}

export function configPath(deviceId: string): string {
	return `${API_PREFIX}/devices/${encodeURIComponent(deviceId)}/config`;
}

/** What a device says of a config document (its `configTarget` names the document's sequence): "config-trying"
 * before it reboots into the trial, "config-valid" once the trial passed and the config is kept, "config-rejected"
 * when the document was refused before anything was written, "config-rolled-back" when the trial failed and the
 * previous config came back (the report is sent with the restored config), "config-interrupted" when a power loss
 * cut the trial or its confirmation short (the document is tried again). */
export const CONFIG_REPORT_STATES = ["config-trying", "config-valid", "config-rejected", "config-rolled-back", "config-interrupted"] as const;
export type ConfigReportState = (typeof CONFIG_REPORT_STATES)[number];

/** What a device says of itself in a report. (The server adds "checked" to a device's history when it fetches its
 * manifest: HISTORY_CHECKED.) */
export const REPORT_STATES = ["downloading", "activating", "valid", "rejected", "rolled-back", "interrupted",
	...CONFIG_REPORT_STATES] as const;
export const HISTORY_CHECKED = "checked";
export type ReportState = (typeof REPORT_STATES)[number];

/** The request header in which a device names the firmware version it runs, on every manifest request: the server
 * knows a device and its version from its first check on, before it has anything to report. */
export const VERSION_HEADER = "x-fota-version";

/** The request header in which a device names the sequence of the config document it runs (0: its factory
 * config), on every manifest request; the server answers with CONFIG_PENDING_HEADER when it holds a newer document
 * for the device, which then fetches it from configPath. The hint is unauthenticated: it only makes the device ask,
 * and the document it then receives is verified like a manifest. */
export const CONFIG_HEADER = "x-fota-config";
export const CONFIG_PENDING_HEADER = "x-fota-config-pending";

/** Conditional manifest requests (tiny idle polls): a device names, in IF_NONE_MATCH_HEADER, the ETag of the last
 * manifest it judged for good in the state it is still in (client.ts); a server whose manifest for the device has that
 * ETag (a strong comparison: the hash of the exact bytes it would send) answers NOT_MODIFIED with the ETag and no body,
 * with every other effect of the poll unchanged (the check recorded, the config hint). A 304 to a request that named no
 * ETag means nothing and is an error. */
export const IF_NONE_MATCH_HEADER = "if-none-match";
export const NOT_MODIFIED = 304;

/** Where a device's config comes from: a working copy, or its factory copy (both working copies unreadable or
 * never written). Reported with the config's digest, its sequence and its non-secret fields. */
export const CONFIG_SOURCES = ["working", "factory"] as const;
export type ConfigSource = (typeof CONFIG_SOURCES)[number];

export type DeviceRoute =
	| { kind: "manifest"; product: string }
	| { kind: "file"; product: string; name: string }
	| { kind: "report"; deviceId: string }
	| { kind: "config"; deviceId: string };

/** The device route a request names, or undefined. Parts are decoded; a part that does not decode names nothing. */
export function deviceRoute(method: string, pathname: string): DeviceRoute | undefined {
	const raw = pathname.split("/");
	if (raw[0] !== "" || raw[1] !== "v1")
		return undefined;
	let parts: string[];
	try {
		parts = raw.slice(2).map((part) => decodeURIComponent(part));
	} catch {
		return undefined;
	}
	if (method === "POST" && parts.length === 3 && parts[0] === "devices" && parts[2] === "report" && parts[1])
		return { kind: "report", deviceId: parts[1] };
	if (method === "GET" && parts.length === 3 && parts[0] === "devices" && parts[2] === "config" && parts[1])
		return { kind: "config", deviceId: parts[1] };
	if ((method === "GET" || method === "HEAD") && parts.length === 3 && parts[0] === "products" && parts[1] && parts[2]) {
		if (parts[2] === "manifest")
			return { kind: "manifest", product: parts[1] };
		return { kind: "file", product: parts[1], name: parts[2] };
	}
	return undefined;
}

// Gateways (tools/gateway): a gateway is a client of its upstream (the cloud, or another gateway) with its own device
// certificate, and an update server to the devices behind it. It asks on a device's behalf with the device routes
// above and names the device in GATEWAY_FOR_HEADER; a gateway behind it is named, nearest the device first, in
// GATEWAY_VIA_HEADER (the receiving gateway adds the one it authenticated). It forwards the reports it stored in
// batches, in order:
//   POST /v1/gateway/reports   {reports: [{seq, deviceId, via, at, report}]}  ->  {results: [{seq, status, error?}]}
// The cloud answers for each item, in order, and stops at the first it could not take for now (the rest are resent).
export const GATEWAY_FOR_HEADER = "x-fota-for";
export const GATEWAY_VIA_HEADER = "x-fota-via";
/** On a gateway's manifest request for a device: the gateway asks ahead (to fetch what the device will need), not the
 * device. The server decides as for the device, but records no check: the device was not seen. */
export const GATEWAY_PREFETCH_HEADER = "x-fota-prefetch";
/** Gateways between a device and the gateway that talks to the cloud, at most (a chain of MAX_GATEWAY_VIA + 1). */
export const MAX_GATEWAY_VIA = 3;
/** Reports in one forwarded batch, at most, and the batch's JSON bytes, at most. */
export const MAX_GATEWAY_BATCH = 100;
export const MAX_GATEWAY_BATCH_BYTES = MAX_GATEWAY_BATCH * 6 * 1024;

export function gatewayReportsPath(): string {
	return `${API_PREFIX}/gateway/reports`;
}

/** One stored report, as a gateway forwards it: its queue number (rising), the device, the gateways between the
 * device and the sender (nearest the device first), when the first gateway took it (ms since 1970), and the report. */
export interface ForwardedReport {
	seq: number;
	deviceId: string;
	via: string[];
	at: number;
	report: Record<string, unknown>;
}

/** stored: taken now; duplicate: taken before (its seq is not above the last taken from this sender); refused: never
 * to be taken (the error says why: the sender may not act for the device, or the report is bad). */
export type ForwardedStatus = "stored" | "duplicate" | "refused";
export interface ForwardedResult {
	seq: number;
	status: ForwardedStatus;
	error?: string;
}
