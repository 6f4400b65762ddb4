// Config documents and device configs for Node tests: a device's raw factory config that trusts a firmware key and
// a config key, and XFC1 envelopes around any body, valid or not, signed by any key.
import { sign } from "node:crypto";
import { frameConfigBody, joinEnvelope } from "../../../modules/fota/envelope.js";
import { toHex } from "../../../modules/fota/hex.js";
import { keyFromNumber, type TestKey } from "./signing.js";

export const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
export const firmwareKey: TestKey = keyFromNumber(101);
export const configKey: TestKey = keyFromNumber(202);
export const otherKey: TestKey = keyFromNumber(303);

export const trusted = (key: TestKey) => ({ keyId: key.keyId, publicKey: toHex(key.publicKey) });

/** A device's raw factory config, with changes. */
export function factory(changes: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		deviceId: "dev-1", product: "demo-board", server: "https://updates.test", ca: CA,
		keys: [trusted(firmwareKey)], configKeys: [trusted(configKey)], pollSeconds: 60, ...changes,
	};
}

/** The settings of a document: the factory's, without the identity, with changes. */
export function settings(changes: Record<string, unknown> = {}): Record<string, unknown> {
	const { deviceId: _d, product: _p, ...rest } = factory();
	return { ...rest, ...changes };
}

/** An XFC1 envelope around `body` (an object made JSON, or text), signed by `key` under `keyId` (its own by default). */
export function sealConfig(body: object | string, key: TestKey = configKey, keyId = key.keyId): Uint8Array {
	const framed = frameConfigBody(keyId, new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body)));
	return joinEnvelope(framed, new Uint8Array(sign(null, framed, key.privateKey)));
}

/** A well-formed document body. */
export function docBody(sequence: number, changes: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
	return { format: 1, product: "demo-board", sequence, settings: settings(changes), ...top };
}
