// PLACEHOLDER until the signed-manifest work (issue 3) merges: the agreed API, no implementation.
export const MAX_MANIFEST_BYTES = 4096;
export type ManifestReason = "oversized" | "malformed" | "unknown-format" | "missing-field" | "wrong-type" | "unknown-key" | "bad-signature";
export interface ImageRef { size: number; sha256: string; url: string; kind: "esp32" | "sim"; }
export interface UpdateManifest { format: 1; keyId: string; product: string; version: string; securityVersion: number; sequence: number; image: ImageRef; expires?: number; }
export interface TrustedKey { keyId: string; publicKey: Uint8Array; }
export type Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
export type OpenResult = { ok: true; manifest: UpdateManifest } | { ok: false; reason: ManifestReason; detail: string };
export function openSignedManifest(_bytes: Uint8Array, _keys: readonly TrustedKey[], _verify: Verify): OpenResult {
	throw new Error("fota/manifest: not merged yet");
}
export function compareSemver(_a: string, _b: string): number {
	throw new Error("fota/manifest: not merged yet");
}
