// Configuration over the air, on the server (issue 12): which signed config documents the server keeps, and which
// one it gives each device.
//   acceptConfigDoc  a document enters only through here (the admin API, the demo's world): it is opened as a device
//                    of its product would open it, against the product's config keys, before anything is kept; a
//                    forged one, one signed with a firmware key, a malformed one, one of an unknown product or of a
//                    sequence the product already used is refused with the device's reason code
//   pendingConfig    the document a device is given: the newest that applies to it (its product; `devices` absent or
//                    naming it; a staged one only when a config rollout offered it to the device), that did not fail
//                    on it (rolled back or refused), and whose sequence is newer than the one the device runs. A device
//                    that lost both working copies runs its factory config (sequence 0), so it is given its last good
//                    document again: restoring is this same rule, nothing more.
// The server never signs nor changes a document: the device verifies what it is given, signature first.
import { createHash } from "node:crypto";
import { checkConfigDoc, claimedProduct } from "../release/config-doc.js";
import { nodeVerify } from "../cli/verifier.js";
import { nodeSha256 } from "../cli/keys.js";
import { trustedKeys } from "./publish.js";
import { StoreConflict, StoreNotFound, type ConfigDocRow, type DeviceRow, type FleetStore } from "./store/store.js";
import { splitConfigEnvelope } from "../../modules/fota/envelope.js";
import type { ConfigDocView, DeviceConfigView } from "./admin-api.js";

export type Accepted = { ok: true; product: string; sequence: number } | { ok: false; reason: string; detail: string };

/** Checks a signed config document against its product's config keys and keeps it; refuses it, naming the reason
 * (the device's reason codes: "bad-signature", "wrong-key-role", "unknown-key", "malformed", ...; or
 * "unknown-product", "no-config-keys", "sequence-used"), with nothing kept. */
export async function acceptConfigDoc(store: FleetStore, bytes: Uint8Array, options: { staged?: boolean; by?: string; now?: Date } = {}): Promise<Accepted> {
	const envelope = splitConfigEnvelope(bytes);
	if (!envelope.ok)
		return { ok: false, reason: envelope.reason, detail: `accepting a config document: ${envelope.detail}` };
	const product = claimedProduct(bytes);
	if (product === undefined)
		return { ok: false, reason: "malformed", detail: "accepting a config document: its body names no product" };
	if (!(await store.products()).includes(product))
		return { ok: false, reason: "unknown-product", detail: `accepting a config document: no product ${JSON.stringify(product).slice(0, 80)}` };
	const configKeys = await trustedKeys(store, product, "config");
	const firmwareKeys = await trustedKeys(store, product, "firmware");
	if (configKeys.length === 0 && !firmwareKeys.some((key) => key.keyId === envelope.keyId))
		return { ok: false, reason: "no-config-keys", detail: `accepting a config document: product ${product} has no config key (xs-fota keys add --role config)` };
	const opened = checkConfigDoc(bytes, configKeys, nodeVerify, nodeSha256, undefined, firmwareKeys);
	if (!opened.ok)
		return { ok: false, reason: opened.reason, detail: `accepting a config document for ${product}: ${opened.detail}` };
	const doc = opened.doc;
	try {
		await store.addConfigDoc({
			product: doc.product, sequence: doc.sequence, devices: doc.devices ?? null, staged: options.staged === true,
			bytes: Uint8Array.from(bytes), sha256: createHash("sha256").update(bytes).digest("hex"), createdBy: options.by ?? null,
		}, options.now ?? new Date());
	} catch (error) {
		if (error instanceof StoreConflict)
			return { ok: false, reason: "sequence-used", detail: `accepting a config document: ${product} already has a document of sequence ${doc.sequence} (a replayed or reused sequence)` };
		if (error instanceof StoreNotFound)
			return { ok: false, reason: "unknown-product", detail: `accepting a config document: ${error.message}` };
		throw error;
	}
	return { ok: true, product: doc.product, sequence: doc.sequence };
}

/** Whether a document is for the device: every device of its product, or it is named. */
export function appliesTo(doc: ConfigDocRow, deviceId: string): boolean {
	return doc.devices === null || doc.devices.includes(deviceId);
}

/** The document the device is to be given, or undefined. named: the sequence it named in this request (else the one
 * it last named or reported; 0 when it never did). offered(doc): whether a config rollout gives a staged document to
 * this device (../rollouts.ts offerConfig). docs: the product's documents when the caller has read them already. */
export async function pendingConfig(store: FleetStore, deviceId: string, product: string, named: number | undefined,
	offered: (doc: ConfigDocRow) => Promise<boolean>, docs?: readonly ConfigDocRow[]): Promise<ConfigDocRow | undefined> {
	const runs = named ?? (await store.deviceConfig(deviceId))?.sequence ?? 0;
	const candidates = (docs ? docs.filter((doc) => doc.product === product && doc.sequence > runs) : await store.configDocs(product, runs))
		.filter((doc) => appliesTo(doc, deviceId)).sort((a, b) => b.sequence - a.sequence);
	if (candidates.length === 0)
		return undefined;
	const failed = new Set((await store.configFailures(deviceId)).map((failure) => failure.sequence));
	for (const doc of candidates) // newest first
		if (!failed.has(doc.sequence) && (!doc.staged || await offered(doc)))
			return doc;
	return undefined;
}

/** Device rows with the sequence of the document waiting for each (configPending, null when none), for the device
 * list: a product's documents are read once, and a device that runs the newest one that applies costs nothing more.
 * Staged documents count only where a rollout already offered them (reading offers nothing). */
export async function withPendingConfigs(store: FleetStore, rows: DeviceRow[], offered: (deviceId: string, doc: ConfigDocRow) => Promise<boolean>):
	Promise<(DeviceRow & { configPending: number | null })[]> {
	const docs = new Map<string, ConfigDocRow[]>();
	const out: (DeviceRow & { configPending: number | null })[] = [];
	for (const row of rows) {
		let product = docs.get(row.product);
		if (!product)
			docs.set(row.product, product = await store.configDocs(row.product));
		const runs = row.configSequence ?? 0;
		const newer = product.some((doc) => doc.sequence > runs && appliesTo(doc, row.deviceId));
		const pending = newer && row.configSequence !== null
			? await pendingConfig(store, row.deviceId, row.product, runs, (doc) => offered(row.deviceId, doc), product) : undefined;
		out.push({ ...row, configPending: pending?.sequence ?? null });
	}
	return out;
}

/** A stored document as the admin API shows it: no bytes, and only the names of its settings. */
export function configDocView(doc: ConfigDocRow): ConfigDocView {
	const envelope = splitConfigEnvelope(doc.bytes);
	let settings: string[] = [];
	if (envelope.ok) {
		const body = JSON.parse(new TextDecoder().decode(envelope.body)) as { settings?: Record<string, unknown> }; // checked when it was accepted
		settings = Object.keys(body.settings ?? {});
	}
	return {
		product: doc.product, sequence: doc.sequence, devices: doc.devices, staged: doc.staged, sha256: doc.sha256,
		keyId: envelope.ok ? envelope.keyId! : "", settings, createdAt: doc.createdAt, createdBy: doc.createdBy,
	};
}

/** A device's config as the admin API shows it: what it runs, its last known good config, its history, the document
 * waiting for it (only those a rollout already offered it, when staged: reading does not offer) and its failures. */
export async function deviceConfigView(store: FleetStore, deviceId: string, product: string | undefined,
	offered: (doc: ConfigDocRow) => Promise<boolean>): Promise<DeviceConfigView> {
	const state = await store.deviceConfig(deviceId);
	const pending = product === undefined ? undefined : await pendingConfig(store, deviceId, product, undefined, offered);
	return {
		deviceId,
		current: state ? { sequence: state.sequence, source: state.source, sha256: state.sha256, fields: state.fields, lost: state.lost, updatedAt: state.updatedAt } : null,
		lastKnownGood: state?.lastKnownGood ?? null,
		history: (await store.configHistory(deviceId)).map(({ id: _, ...entry }) => entry),
		pending: pending ? { sequence: pending.sequence, sha256: pending.sha256, staged: pending.staged } : null,
		failed: await store.configFailures(deviceId),
	};
}
