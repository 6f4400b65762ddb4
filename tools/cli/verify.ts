// xs-fota verify: checks a manifest.xfm the way the device does, and optionally the image it names.
import { readFileSync } from "node:fs";
import { checkRelease } from "../release/check.js";
import { CliError } from "./errors.js";
import { readPublicKey } from "./keys.js";
import type { Command } from "./options.js";

function readBytes(path: string, what: string): Buffer {
	try {
		return readFileSync(path);
	}
	catch (error) {
		throw new CliError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
	}
}

export const verify: Command = {
	name: "verify",
	usage: `usage: xs-fota verify --pub K.pub --manifest M.xfm [--image FILE]

Checks the manifest's envelope, its Ed25519 signature by K.pub and its fields with the device's own
parser (modules/fota/manifest.ts), then, with --image, the image's size and SHA-256 (tools/release/check.ts: the
server's publish runs the same checks). Exits 1 on any failure.`,
	options: { pub: { required: true }, manifest: { required: true }, image: {} },
	run(values) {
		const key = readPublicKey(values.pub!);
		const bytes = readBytes(values.manifest!, "manifest");
		const image = values.image !== undefined ? readBytes(values.image, "image") : undefined;
		const result = checkRelease(new Uint8Array(bytes), image && new Uint8Array(image), [key]);
		if (!result.ok)
			throw new CliError(["size-mismatch", "digest-mismatch"].includes(result.refusal) ? `image rejected: ${result.detail}`
				: result.refusal === "expired" ? `manifest ${result.detail.replace(/^the manifest /, "")}` : `manifest rejected (${result.reason}): ${result.detail}`);
		const { manifest } = result;
		console.log(`OK: signature by key ${manifest.keyId}\n` +
			`product ${manifest.product} version ${manifest.version} securityVersion ${manifest.securityVersion} sequence ${manifest.sequence}\n` +
			`image ${manifest.image.kind} ${manifest.image.size} bytes sha256 ${manifest.image.sha256} url ${manifest.image.url}` +
			(manifest.expires !== undefined ? `\nexpires ${new Date(manifest.expires * 1000).toISOString()}` : "") +
			(values.image !== undefined ? `\nimage ${values.image} matches` : ""));
	},
};
