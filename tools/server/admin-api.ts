// The administrators' HTTP surface, in one typed place: the server answers these shapes, the CLI and the fleet page
// read them. Every route needs `Authorization: Bearer <token>` (`xs-fota admin token create`).
//   GET  /v1/admin/fleet                                   FleetSummary
//   GET  /v1/admin/devices[?product=&version=&state=&search=&limit=&offset=]   DeviceListRow[]
//   GET  /v1/admin/devices/<id>                            DeviceRow & {history: ReportRow[]} (newest first)
//   POST /v1/admin/devices/<id>/revoke
//   GET  /v1/admin/rollouts[?product=]                     RolloutView[] (newest first, without events)
//   POST /v1/admin/rollouts                                RolloutSpec -> RolloutView (201)
//   GET  /v1/admin/rollouts/<id>                           RolloutView with events
//   POST /v1/admin/rollouts/<id>/pause|resume|abort        RolloutView
//   POST /v1/admin/configs                                 ConfigUpload -> ConfigDocView (201)
//   GET  /v1/admin/configs[?product=]                      ConfigDocView[] (newest first)
//   GET  /v1/admin/devices/<id>/config                     DeviceConfigView
//   GET  /v1/admin/gateways/<id>/devices                   GatewayDevices
//   POST /v1/admin/gateways/<id>/devices {devices?, remove?}   GatewayDevices (after the change)
//   (products, keys and releases: see tools/server/server.ts)
export const ADMIN_PREFIX = "/v1/admin";

export const adminPaths = {
	fleet: () => `${ADMIN_PREFIX}/fleet`,
	devices: () => `${ADMIN_PREFIX}/devices`,
	device: (id: string) => `${ADMIN_PREFIX}/devices/${encodeURIComponent(id)}`,
	rollouts: () => `${ADMIN_PREFIX}/rollouts`,
	rollout: (id: number) => `${ADMIN_PREFIX}/rollouts/${id}`,
	rolloutAction: (id: number, action: RolloutAction) => `${ADMIN_PREFIX}/rollouts/${id}/${action}`,
	configs: () => `${ADMIN_PREFIX}/configs`,
	deviceConfig: (id: string) => `${ADMIN_PREFIX}/devices/${encodeURIComponent(id)}/config`,
	/** GET: the devices registered behind the gateway; POST {devices?, remove?}: registers and removes (GatewayDevices) */
	gatewayDevices: (id: string) => `${ADMIN_PREFIX}/gateways/${encodeURIComponent(id)}/devices`,
};

export const ROLLOUT_ACTIONS = ["pause", "resume", "abort"] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

/** scheduled: before its start time; running: stages open as thresholds are met; paused: by an administrator;
 * halted: by its own error threshold (resume or abort it); aborted, complete: final. */
export const ROLLOUT_STATES = ["scheduled", "running", "paused", "halted", "aborted", "complete"] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** A window in which devices may start an update: from each time the cron expression (5 fields: minute hour
 * day-of-month month day-of-week) names, in timeZone (IANA, e.g. "Europe/Paris"), for durationMinutes. */
export interface MaintenanceWindow {
	cron: string;
	durationMinutes: number;
	timeZone: string;
}

export interface RolloutThresholds {
	/** share of a stage's devices that must succeed before the next stage opens, in (0, 1] */
	success: number;
	/** share of the finished devices whose failures halt the rollout, in [0, 1) */
	error: number;
	/** failures count towards the error threshold only once this many devices have finished */
	minDevices: number;
	/** a stage stays open at least this long before the next one opens */
	soakSeconds: number;
	/** a device that started the update (was offered it) and has not finished within this counts as failed ("timed-out") */
	timeoutSeconds: number;
}

/** What an administrator asks for (POST /v1/admin/rollouts). Unset fields take the defaults of tools/server/rollouts.ts. */
export interface RolloutSpec {
	product: string;
	/** the release, by version; it must be published staged (not served to every device) */
	version?: string;
	/** or a config document, by its sequence; it must be uploaded staged (POST /v1/admin/configs {staged: true}).
	 * Success is "config-valid"; failures are "config-rolled-back", "config-rejected" and the timeout. */
	config?: number;
	/** the target within the product: devices now running one of these versions, and/or these device ids */
	filter?: { versions?: string[]; devices?: string[] };
	/** cumulative shares of the target, rising to 1, e.g. [0.01, 0.1, 0.5, 1] */
	stages?: number[];
	/** or an exponential rate: first share, then times factor, up to 1 */
	exponential?: { first: number; factor: number };
	thresholds?: Partial<RolloutThresholds>;
	/** ISO 8601; before it the rollout is "scheduled" and offers nothing */
	startAt?: string;
	/** devices start the update only inside one of these; outside, they are told to come back when one opens */
	windows?: MaintenanceWindow[];
}

export interface StageView {
	/** cumulative share of the target */
	share: number;
	/** devices of the target placed in this stage */
	devices: number;
	succeeded: number;
	/** offered the release, no outcome yet */
	inProgress: number;
	/** rolled back, rejected or timed out */
	failed: number;
	/** not offered yet */
	waiting: number;
	opened: boolean;
	/** ISO 8601, or null while closed */
	openedAt: string | null;
}

export interface RolloutEvent {
	/** ISO 8601 */
	at: string;
	state: RolloutState;
	/** why, e.g. "halted: 7 of 60 failed (11.7% > 5.0%)" */
	cause: string;
}

export interface RolloutView {
	id: number;
	/** "release", or "config": the rollout gives the config document of `sequence` (its version reads "config N") */
	kind: "release" | "config";
	product: string;
	version: string;
	sequence: number;
	state: RolloutState;
	/** the cause of the last state change */
	cause: string;
	/** while running: what it waits for (a threshold, a soak, a window), else null */
	waiting: string | null;
	createdAt: string;
	startAt: string | null;
	windows: MaintenanceWindow[];
	/** whether devices may start now (no windows: always); and when the next window opens, ISO 8601, when closed */
	windowOpen: boolean;
	nextWindow: string | null;
	filter: { versions?: string[]; devices?: string[] };
	thresholds: RolloutThresholds;
	stages: StageView[];
	/** the index of the last opened stage (-1 before the start) */
	opened: number;
	totals: { devices: number; succeeded: number; inProgress: number; failed: number; waiting: number };
	/** the failures' reasons, most frequent first: the device's error ("selftest-failed", "timed-out", ...) */
	failures: { reason: string; count: number }[];
	/** only in GET /v1/admin/rollouts/<id>: every state change, oldest first */
	events?: RolloutEvent[];
}

/** A device in GET /v1/admin/devices: its row (./store/store.ts DeviceRow) and the sequence of the config document
 * waiting for it (null: none, or it never named the config it runs). */
export type DeviceListRow = import("./store/store.js").DeviceRow & { configPending: number | null };

export interface FleetSummary {
	devices: number;
	products: { product: string; devices: number; versions: Record<string, number>; states: Record<string, number> }[];
}

/** An upload of a signed config document (POST /v1/admin/configs): the XFC1 bytes in base64; staged: given only
 * through a config rollout. */
export interface ConfigUpload {
	document: string;
	staged?: boolean;
}

/** A stored config document, without its bytes. */
export interface ConfigDocView {
	product: string;
	sequence: number;
	/** the devices it is for; null: every device of the product */
	devices: string[] | null;
	staged: boolean;
	/** SHA-256 (hex) of the signed bytes */
	sha256: string;
	keyId: string;
	/** the names of the settings it sets (their values may hold the app's own tokens: not shown) */
	settings: string[];
	createdAt: string;
	createdBy: string | null;
}

/** A device's configuration as the server knows it (GET /v1/admin/devices/<id>/config). */
export interface DeviceConfigView {
	deviceId: string;
	/** what it last said: the document's sequence (0: factory config), its source, digest, fields and damaged copies */
	current: { sequence: number | null; source: string | null; sha256: string | null; fields: Record<string, unknown> | null; lost: string[]; updatedAt: string } | null;
	/** the last document it kept after its trial (config-valid), with the config it then reported */
	lastKnownGood: { sequence: number; sha256: string | null; fields: Record<string, unknown> | null; at: string } | null;
	/** newest first: "config" when its reported config changed, else a config-* state with its target and error */
	history: { at: string; state: string; sequence: number | null; target: number | null; source: string | null; sha256: string | null; error: string | null }[];
	/** the document it would be given now, if any */
	pending: { sequence: number; sha256: string; staged: boolean } | null;
	/** documents rolled back on it or refused by it: never given to it again */
	failed: { sequence: number; state: string; reason: string | null; at: string }[];
}

/** The devices registered behind a gateway: the gateway may act for these, and only these (tools/server/gateway-authority.ts).
 * Device rows (GET /v1/admin/devices and /devices/<id>) carry `gateway`: the gateway the device is behind, or null. */
export interface GatewayDevices {
	gateway: string;
	devices: string[];
}

/** What the device routes add to each device row (DeviceRow, ./store/store.ts): the gateway it is behind, or null. */
export interface DeviceGateway {
	gateway: string | null;
}
