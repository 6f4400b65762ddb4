// Builds signed releases the way docs/format.md specifies, independently of the CLI:
// "XFM2" | key id (8 bytes) | body length (u16, big-endian) | JSON body | Ed25519 signature over all that precedes it.
import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";

export interface SigningKey {
	keyId: string;
	publicKey: Uint8Array;
	privateKey: KeyObject;
}

export function makeKey(): SigningKey {
	const { publicKey, privateKey } = generateKeyPairSync("ed25519");
	const raw = new Uint8Array(publicKey.export({ format: "der", type: "spki" }).subarray(12));
	const keyId = createHash("sha256").update(raw).digest("hex").slice(0, 16);
	return { keyId, publicKey: raw, privateKey };
}

export function sha256Hex(data: Uint8Array): string {
	return createHash("sha256").update(data).digest("hex");
}

export function envelope(body: string | Uint8Array, key: SigningKey, tamper?: (bytes: Uint8Array) => void): Uint8Array {
	const bodyBytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
	const head = new Uint8Array(14 + bodyBytes.length);
	head.set([0x58, 0x46, 0x4d, 0x32], 0); // XFM2
	head.set(Buffer.from(key.keyId, "hex"), 4); // the signer's key id, inside the signed bytes
	head[12] = bodyBytes.length >> 8;
	head[13] = bodyBytes.length & 0xff;
	head.set(bodyBytes, 14);
	tamper?.(head);
	const signature = sign(null, head, key.privateKey);
	const out = new Uint8Array(head.length + 64);
	out.set(head);
	out.set(signature, head.length);
	return out;
}

export interface ReleaseFields {
	product?: string;
	version: string;
	securityVersion?: number;
	sequence: number;
	kind?: string;
	url?: string;
	size?: number;
	sha256?: string;
	expires?: number;
}

export function manifestBody(image: Uint8Array, fields: ReleaseFields, key: SigningKey): Record<string, unknown> {
	return {
		format: 1,
		keyId: key.keyId,
		product: fields.product ?? "demo-board",
		version: fields.version,
		securityVersion: fields.securityVersion ?? 1,
		sequence: fields.sequence,
		image: {
			size: fields.size ?? image.length,
			sha256: fields.sha256 ?? sha256Hex(image),
			url: fields.url ?? `images/${fields.version}.bin`,
			kind: fields.kind ?? "sim",
		},
		...(fields.expires !== undefined ? { expires: fields.expires } : {}),
	};
}

export function signRelease(image: Uint8Array, fields: ReleaseFields, key: SigningKey): Uint8Array {
	return envelope(JSON.stringify(manifestBody(image, fields, key)), key);
}

/** Deterministic pseudo-random bytes, so failures can be replayed from the seed. */
export function bytes(length: number, seed: number): Uint8Array {
	const out = new Uint8Array(length);
	let x = seed >>> 0 || 1;
	for (let i = 0; i < length; i++) {
		x ^= x << 13; x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5; x >>>= 0;
		out[i] = x & 0xff;
	}
	return out;
}
