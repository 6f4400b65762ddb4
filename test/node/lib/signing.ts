// Signing helpers for Node tests: keys from seeds, and envelopes around any body, valid or not.
import { createHash, createPrivateKey, sign, type KeyObject } from "node:crypto";
import { frameBody, frameBody2, joinEnvelope } from "../../../modules/fota/envelope.js";
import type { TrustedKey, UpdateManifest } from "../../../modules/fota/manifest.js";

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface TestKey extends TrustedKey { privateKey: KeyObject; }

export function keyFromSeed(seed: Uint8Array): TestKey {
	const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
	const jwk = privateKey.export({ format: "jwk" });
	const publicKey = new Uint8Array(Buffer.from(jwk.x!, "base64url"));
	return { keyId: createHash("sha256").update(publicKey).digest("hex").slice(0, 16), publicKey, privateKey };
}

export function keyFromNumber(n: number): TestKey {
	const seed = new Uint8Array(32);
	new DataView(seed.buffer).setUint32(0, n);
	return keyFromSeed(createHash("sha256").update(seed).digest());
}

/** The XFM2 envelope around `body` (bytes, a string or an object turned into JSON), signed by `key` under its id. */
export function seal(body: Uint8Array | string | object, key: TestKey): Uint8Array {
	const bytes = body instanceof Uint8Array ? body : new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body));
	const framed = frameBody2(key.keyId, bytes);
	return joinEnvelope(framed, new Uint8Array(sign(null, framed, key.privateKey)));
}

/** The same in the XFM1 envelope (the key id only inside the body), for the fleets that still read it. */
export function sealV1(body: Uint8Array | string | object, key: TestKey): Uint8Array {
	const bytes = body instanceof Uint8Array ? body : new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body));
	const framed = frameBody(bytes);
	return joinEnvelope(framed, new Uint8Array(sign(null, framed, key.privateKey)));
}

export function sampleManifest(key: TrustedKey, changes: Record<string, unknown> = {}): UpdateManifest & Record<string, unknown> {
	return {
		format: 1, keyId: key.keyId, product: "xs-fota-devkit", version: "1.4.0", securityVersion: 2, sequence: 41,
		image: { size: 1048576, sha256: "ab".repeat(32), url: "firmware-1.4.0.bin", kind: "esp32" },
		...changes,
	} as UpdateManifest & Record<string, unknown>;
}
