// xs-fota sign: hashes an image and writes DIR/manifest.xfm, the signed manifest, with the image beside it.
import { createHash, sign as edSign } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { frameBody, frameBody2, joinEnvelope, MAX_BODY_BYTES } from "../../modules/fota/envelope.js";
import { IMAGE_KINDS, openSignedManifest, type UpdateManifest } from "../../modules/fota/manifest.js";
import { GATEWAY_KIND } from "../gateway/self-update.js";
import { CliError, USAGE } from "./errors.js";
import { keyIdOf, rawPublicKey, readPrivateKey } from "./keys.js";
import { integerOption, type Command } from "./options.js";
import { nodeVerify } from "./verifier.js";

const MAX_U32 = 0xffffffff;

function readImage(path: string): Buffer {
	try {
		return readFileSync(path);
	}
	catch (error) {
		throw new CliError(`cannot read image ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
	}
}

export const sign: Command = {
	name: "sign",
	usage: `usage: xs-fota sign --key K.key --image FILE --product P --version V --security-version N
                    --sequence N --kind esp32|lin|sim|node [--url URL] [--expires SECONDS] [--envelope 2|1] --out DIR

Computes the image's size and SHA-256, writes DIR/manifest.xfm (see docs/format.md) signed with K.key,
and copies the image into DIR. --url is where the device fetches the image: relative to the manifest's
URL (default: the image's file name) or an absolute https:// URL. --expires is a Unix time in seconds.`,
	options: {
		key: { required: true }, image: { required: true }, product: { required: true }, version: { required: true },
		"security-version": { required: true }, sequence: { required: true }, kind: { required: true },
		url: {}, expires: {}, out: { required: true }, envelope: {},
	},
	run(values) {
		if (values.envelope !== undefined && values.envelope !== "1" && values.envelope !== "2")
			throw new CliError(`--envelope must be 2 (the default) or 1, not ${JSON.stringify(values.envelope)}`, USAGE);
		const kind = values.kind!;
		const kinds = [...IMAGE_KINDS, GATEWAY_KIND]; // the devices' kinds, and a gateway's own software (README "Gateways")
		if (!kinds.includes(kind))
			throw new CliError(`--kind must be one of ${kinds.join(", ")}, not ${JSON.stringify(kind)}`, USAGE);
		const securityVersion = integerOption("security-version", values["security-version"]!, MAX_U32);
		const sequence = integerOption("sequence", values.sequence!, Number.MAX_SAFE_INTEGER);
		const expires = values.expires === undefined ? undefined : integerOption("expires", values.expires, Number.MAX_SAFE_INTEGER);
		const privateKey = readPrivateKey(values.key!);
		const publicKey = rawPublicKey(privateKey);
		const image = readImage(values.image!);
		if (image.length === 0 || image.length > MAX_U32)
			throw new CliError(`the image is ${image.length} bytes; it must be 1 to ${MAX_U32}`);
		const url = values.url ?? basename(values.image!);
		const manifest: UpdateManifest = {
			format: 1, keyId: keyIdOf(publicKey), product: values.product!, version: values.version!, securityVersion, sequence,
			image: { size: image.length, sha256: createHash("sha256").update(image).digest("hex"), url, kind },
		};
		if (expires !== undefined)
			manifest.expires = expires;
		const body = new TextEncoder().encode(JSON.stringify(manifest));
		if (body.length > MAX_BODY_BYTES)
			throw new CliError(`the manifest body is ${body.length} bytes; at most ${MAX_BODY_BYTES} fit (shorten --url or --product)`);
		// XFM2 by default: the key id in the signed header, so devices verify before they parse. --envelope 1 writes
		// XFM1 for a fleet whose firmware predates XFM2 (docs/format.md, "Moving a fleet to XFM2").
		const framed = values.envelope === "1" ? frameBody(body) : frameBody2(manifest.keyId, body);
		const envelope = joinEnvelope(framed, new Uint8Array(edSign(null, framed, privateKey)));
		// The device's own checks, run before anything is written: the tool never emits a manifest the device rejects.
		const check = openSignedManifest(envelope, [{ keyId: manifest.keyId, publicKey }], nodeVerify);
		if (!check.ok)
			throw new CliError(`invalid manifest (${check.reason}): ${check.detail}`, USAGE);
		const dir = values.out!;
		mkdirSync(dir, { recursive: true });
		const plainName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(url) ? url : basename(values.image!);
		const imageCopy = join(dir, plainName);
		if (resolve(imageCopy) !== resolve(values.image!))
			copyFileSync(values.image!, imageCopy);
		writeFileSync(join(dir, "manifest.xfm"), envelope);
		console.log(`signed ${manifest.product} ${manifest.version} (security version ${securityVersion}, sequence ${sequence}) with key ${manifest.keyId}\n` +
			`manifest ${join(dir, "manifest.xfm")} (${envelope.length} bytes)\nimage    ${imageCopy} (${image.length} bytes, sha256 ${manifest.image.sha256})`);
	},
};
