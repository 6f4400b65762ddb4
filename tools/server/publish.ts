// Publishing a release: the checks of tools/release/check.ts against the product's trusted keys and its latest
// sequence, then the image stored once by its SHA-256 (written to a temporary name and renamed, so a reader never
// sees half an image), then the release row. One function for the admin API and for the tools that publish in
// process (the demo's world), so a release can only ever enter through these checks.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkRelease, type ReleaseRefusal } from "../release/check.js";
import { StoreConflict, StoreNotFound, type FleetStore, type KeyRole, type ReleaseRow } from "./store/store.js";
import type { TrustedKey } from "../../modules/fota/manifest.js";

export type Published =
	| { ok: true; release: ReleaseRow }
	| { ok: false; status: number; error: ReleaseRefusal | "unknown-product" | "no-keys"; detail: string };

const PRODUCT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The path of a stored image: the images folder, then its SHA-256 in hex. */
export function imagePath(images: string, sha256: string): string {
	if (!/^[0-9a-f]{64}$/.test(sha256))
		throw new RangeError(`not a SHA-256: ${sha256}`);
	return join(images, sha256);
}

/** The product's keys of one role: "firmware" (default) signs manifests, "config" signs config documents; a release is
 * checked only against the firmware keys, so a config key can never sign one. */
export async function trustedKeys(store: FleetStore, product: string, role: KeyRole = "firmware"): Promise<TrustedKey[]> {
	return (await store.keys(product)).filter((key) => key.role === role)
		.map((key) => ({ keyId: key.keyId, publicKey: new Uint8Array(Buffer.from(key.publicKey, "hex")) }));
}

/** staged: the release is served only through rollouts (tools/server/rollouts.ts), not to every device at once. */
export async function publishRelease(store: FleetStore, images: string, product: string, manifest: Uint8Array, image: Uint8Array,
	now = new Date(), options: { staged?: boolean } = {}): Promise<Published> {
	if (!PRODUCT.test(product) || !(await store.products()).includes(product))
		return { ok: false, status: 404, error: "unknown-product", detail: `no product ${JSON.stringify(product)}: add it and its signing keys first` };
	const keys = await trustedKeys(store, product);
	if (keys.length === 0)
		return { ok: false, status: 422, error: "no-keys", detail: `product ${product} has no trusted signing key yet` };
	const latest = await store.latestRelease(product);
	const checked = checkRelease(manifest, image, keys, { product, latestSequence: latest?.sequence, plainImageName: true, now: now.getTime() });
	if (!checked.ok)
		return { ok: false, status: checked.refusal === "stale-sequence" ? 409 : 422, error: checked.refusal, detail: checked.refusal === "manifest" ? `${checked.reason}: ${checked.detail}` : checked.detail };
	const signed = checked.manifest;
	const sha256 = createHash("sha256").update(image).digest("hex");
	mkdirSync(images, { recursive: true });
	const path = imagePath(images, sha256);
	if (!existsSync(path)) {
		const temporary = `${path}.${process.pid}.${Date.now()}.part`;
		writeFileSync(temporary, image, { mode: 0o644 });
		renameSync(temporary, path);
	}
	try {
		const release = await store.addRelease({
			product, sequence: signed.sequence, version: signed.version, securityVersion: signed.securityVersion,
			kind: signed.image.kind, imageSha256: sha256, imageSize: image.length, manifest, staged: options.staged === true,
		}, now);
		return { ok: true, release };
	} catch (error) {
		if (error instanceof StoreConflict)
			return { ok: false, status: 409, error: "stale-sequence", detail: error.message };
		if (error instanceof StoreNotFound)
			return { ok: false, status: 404, error: "unknown-product", detail: error.message };
		throw error;
	}
}
