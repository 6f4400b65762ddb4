// The checks a release must pass before it is offered to devices: the manifest opens as a device opens it (its
// envelope, its Ed25519 signature by one of the product's trusted keys, with libsodium's rules, its fields), it is
// for this product and not expired, the image has the signed size and SHA-256, the image's URL is a plain file name
// (nothing that could climb out of the product's folder), and its sequence is above the product's latest. One
// function for `xs-fota verify` and for the server's publish endpoint, so the two cannot disagree.
import { createHash } from "node:crypto";
import { openSignedManifest, type TrustedKey, type UpdateManifest } from "../../modules/fota/manifest.js";
import { nodeVerify } from "../cli/verifier.js";

export type ReleaseRefusal =
	| "manifest" /* the device would refuse it: detail says why, with the device's reason code */
	| "wrong-product" | "expired" | "size-mismatch" | "digest-mismatch" | "bad-image-url" | "stale-sequence";

export type ReleaseCheck =
	| { ok: true; manifest: UpdateManifest }
	| { ok: false; refusal: ReleaseRefusal; reason: string; detail: string };

/** A file name the server can store and serve: 1 to 128 of [A-Za-z0-9._-], not starting with a dot. */
const IMAGE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export interface ReleaseContext {
	/** the product it is published for; undefined: any (the CLI's verify) */
	product?: string;
	/** the product's latest published sequence; the new one must be above it */
	latestSequence?: number;
	/** now, ms since 1970 (default Date.now()) */
	now?: number;
	/** the image URL must be a plain file name (the server stores and serves it under the product) */
	plainImageName?: boolean;
}

export function checkRelease(manifestBytes: Uint8Array, image: Uint8Array | undefined, keys: readonly TrustedKey[], context: ReleaseContext = {}): ReleaseCheck {
	const refuse = (refusal: ReleaseRefusal, reason: string, detail: string): ReleaseCheck => ({ ok: false, refusal, reason, detail });
	const opened = openSignedManifest(manifestBytes, keys, nodeVerify);
	if (!opened.ok)
		return refuse("manifest", opened.reason, opened.detail);
	const manifest = opened.manifest;
	if (context.product !== undefined && manifest.product !== context.product)
		return refuse("wrong-product", "wrong-product", `the manifest is for ${manifest.product}, not ${context.product}`);
	const now = context.now ?? Date.now();
	if (manifest.expires !== undefined && manifest.expires * 1000 < now)
		return refuse("expired", "expired", `the manifest expired at ${new Date(manifest.expires * 1000).toISOString()}`);
	if (context.plainImageName && !IMAGE_NAME.test(manifest.image.url))
		return refuse("bad-image-url", "bad-image-url", `the image URL ${JSON.stringify(manifest.image.url)} is not a plain file name ([A-Za-z0-9._-], not starting with a dot)`);
	if (context.latestSequence !== undefined && manifest.sequence <= context.latestSequence)
		return refuse("stale-sequence", "stale-sequence", `sequence ${manifest.sequence} is not above the product's latest, ${context.latestSequence}`);
	if (image !== undefined) {
		if (image.length !== manifest.image.size)
			return refuse("size-mismatch", "size-mismatch", `${image.length} bytes, the manifest signs ${manifest.image.size}`);
		const digest = createHash("sha256").update(image).digest("hex");
		if (digest !== manifest.image.sha256)
			return refuse("digest-mismatch", "digest-mismatch", `SHA-256 ${digest} does not match the manifest's ${manifest.image.sha256}`);
	}
	return { ok: true, manifest };
}
