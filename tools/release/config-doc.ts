// Signing a config document in Node (docs/format.md, "Config documents"): the vendor's side of
// modules/fota/config-doc.ts. `xs-fota config sign`, the server's checks and the tests all make documents here, so
// that there is one way to frame and sign one. The document is checked before it is returned: its fields as the
// device checks them (the settings it names, their types, the resulting config), so the tool never emits a document
// every device would refuse.
import { sign, type KeyObject } from "node:crypto";
import { frameConfigBody, joinEnvelope, MAX_CONFIG_BODY_BYTES } from "../../modules/fota/envelope.js";
import { openConfigDoc, type ConfigDoc } from "../../modules/fota/config-doc.js";
import { parseDeviceConfig, type DeviceConfig, type Sha256 } from "../../modules/fota/config.js";
import type { TrustedKey, Verify } from "../../modules/fota/manifest.js";

export interface ConfigDocFields {
	product: string;
	devices?: string[];
	sequence: number;
	settings: Record<string, unknown>;
}

export class ConfigDocError extends Error {
	override name = "ConfigDocError";
}

/** The signed XFC1 bytes of a document, signed with `privateKey` (an Ed25519 key) under `keyId`. Throws
 * ConfigDocError when a device would refuse the document for what it says (checked against a stand-in device of the
 * product that trusts this key for configs). */
export function signConfigDoc(fields: ConfigDocFields, key: { keyId: string; publicKey: Uint8Array; privateKey: KeyObject }, verify: Verify, sha256: Sha256): Uint8Array {
	const body = new TextEncoder().encode(JSON.stringify({ format: 1, product: fields.product,
		...(fields.devices ? { devices: fields.devices } : {}), sequence: fields.sequence, settings: fields.settings }));
	if (body.length > MAX_CONFIG_BODY_BYTES)
		throw new ConfigDocError(`the document's body is ${body.length} bytes; at most ${MAX_CONFIG_BODY_BYTES} fit`);
	const framed = frameConfigBody(key.keyId, body);
	const bytes = joinEnvelope(framed, new Uint8Array(sign(null, framed, key.privateKey)));
	const opened = checkConfigDoc(bytes, [{ keyId: key.keyId, publicKey: key.publicKey }], verify, sha256, fields.devices?.[0]);
	if (!opened.ok)
		throw new ConfigDocError(`a device would refuse this document (${opened.reason}): ${opened.detail}`);
	return bytes;
}

/** Opens a document as a device of its product would at its factory config (sequence 0), trusting `configKeys`:
 * for the server (which checks a document before it keeps it) and the tool. deviceId defaults to the first the
 * document names. firmwareKeys: the product's firmware keys, which the stand-in trusts for manifests, so that a
 * document signed with one is refused as "wrong-key-role" (as a device refuses it); without them the stand-in's
 * firmware key is a fixed one that no document can be signed with. */
export function checkConfigDoc(bytes: Uint8Array, configKeys: readonly TrustedKey[], verify: Verify, sha256: Sha256, deviceId?: string,
	firmwareKeys: readonly TrustedKey[] = []):
	{ ok: true; doc: ConfigDoc; config: DeviceConfig } | { ok: false; reason: string; detail: string } {
	const product = claimedProduct(bytes);
	const standIn = standInConfig(product ?? "unknown", deviceId, sha256);
	const config: DeviceConfig = { ...standIn, ...(firmwareKeys.length > 0 ? { keys: [...firmwareKeys] } : {}), configKeys: [...configKeys] };
	const opened = openConfigDoc(bytes, { config, raw: { deviceId: config.deviceId, product: config.product }, sequence: 0, failedSequence: 0 }, verify, sha256);
	if (!opened.ok && opened.reason === "wrong-device" && deviceId === undefined)
		return checkConfigDoc(bytes, configKeys, verify, sha256, devicesOf(bytes)?.[0], firmwareKeys);
	return opened.ok ? { ok: true, doc: opened.doc, config: opened.config } : opened;
}

/** The body's product and devices, read only to choose the stand-in device; everything is checked again, after the
 * signature, by openConfigDoc. */
function bodyOf(bytes: Uint8Array): Record<string, unknown> | undefined {
	try {
		const length = (bytes[12]! << 8) | bytes[13]!;
		const value = JSON.parse(new TextDecoder().decode(bytes.subarray(14, 14 + length)));
		return typeof value === "object" && value !== null ? value : undefined;
	}
	catch {
		return undefined;
	}
}

/** The product a document's body names, unverified: only to choose whose keys check it (the server). */
export function claimedProduct(bytes: Uint8Array): string | undefined {
	const product = bodyOf(bytes)?.product;
	return typeof product === "string" ? product : undefined;
}

function devicesOf(bytes: Uint8Array): string[] | undefined {
	const devices = bodyOf(bytes)?.devices;
	return Array.isArray(devices) && devices.every((id) => typeof id === "string") ? devices : undefined;
}

/** A fixed, valid public key for the stand-in device's firmware role (32 bytes of 0x11 would not be a point, and
 * the config parser checks only the id's derivation, not the point). */
const STAND_IN_FIRMWARE_KEY = "11".repeat(32);

function standInConfig(product: string, deviceId: string | undefined, sha256: Sha256): DeviceConfig {
	const publicKey = Uint8Array.from(Buffer.from(STAND_IN_FIRMWARE_KEY, "hex"));
	const keyId = Buffer.from(sha256(publicKey).subarray(0, 8)).toString("hex");
	return parseDeviceConfig({
		deviceId: deviceId ?? "stand-in", product, server: "https://stand-in.invalid",
		ca: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", keys: [{ keyId, publicKey: STAND_IN_FIRMWARE_KEY }],
	}, sha256);
}
