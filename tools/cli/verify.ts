// xs-fota verify: checks a manifest.xfm the way the device does, and optionally the image it names.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { openSignedManifest } from "../../modules/fota/manifest.js";
import { CliError } from "./errors.js";
import { readPublicKey } from "./keys.js";
import type { Command } from "./options.js";
import { nodeVerify } from "./verifier.js";

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
parser (modules/fota/manifest.ts), then, with --image, the image's size and SHA-256. Exits 1 on any failure.`,
	options: { pub: { required: true }, manifest: { required: true }, image: {} },
	run(values) {
		const key = readPublicKey(values.pub!);
		const bytes = readBytes(values.manifest!, "manifest");
		const result = openSignedManifest(new Uint8Array(bytes), [key], nodeVerify);
		if (!result.ok)
			throw new CliError(`manifest rejected (${result.reason}): ${result.detail}`);
		const { manifest } = result;
		if (manifest.expires !== undefined && manifest.expires * 1000 < Date.now())
			throw new CliError(`manifest expired at ${new Date(manifest.expires * 1000).toISOString()}`);
		if (values.image !== undefined) {
			const image = readBytes(values.image, "image");
			if (image.length !== manifest.image.size)
				throw new CliError(`image rejected: ${image.length} bytes, the manifest signs ${manifest.image.size}`);
			const digest = createHash("sha256").update(image).digest("hex");
			if (digest !== manifest.image.sha256)
				throw new CliError(`image rejected: SHA-256 ${digest} does not match the manifest's ${manifest.image.sha256}`);
		}
		console.log(`OK: signature by key ${manifest.keyId}\n` +
			`product ${manifest.product} version ${manifest.version} securityVersion ${manifest.securityVersion} sequence ${manifest.sequence}\n` +
			`image ${manifest.image.kind} ${manifest.image.size} bytes sha256 ${manifest.image.sha256} url ${manifest.image.url}` +
			(manifest.expires !== undefined ? `\nexpires ${new Date(manifest.expires * 1000).toISOString()}` : "") +
			(values.image !== undefined ? `\nimage ${values.image} matches` : ""));
	},
};
