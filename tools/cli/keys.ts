// Key files. NAME.key: the Ed25519 private key as PKCS#8 PEM (mode 0600). NAME.pub: JSON {keyId, publicKey}
// with the raw 32-byte public key in hex. The key id is the first 8 bytes of SHA-256(public key), in hex.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { CliError } from "./errors.js";
import { isCanonicalPoint, isSmallOrder } from "./verifier.js";
import { keyIdOf as deviceKeyIdOf } from "../../modules/fota/config.js";

export interface PublicKeyFile { keyId: string; publicKey: string; }

/** SHA-256 with node:crypto, as the device config's parser takes it. */
export const nodeSha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());

/** The key id of a raw public key, derived as the device derives it (modules/fota/config.ts). */
export function keyIdOf(publicKey: Uint8Array): string {
	return deviceKeyIdOf(publicKey, nodeSha256);
}

/** The raw 32 bytes of an Ed25519 public (or private) key object. */
export function rawPublicKey(key: KeyObject): Uint8Array {
	const jwk = (key.type === "public" ? key : createPublicKey(key)).export({ format: "jwk" });
	return new Uint8Array(Buffer.from(jwk.x!, "base64url"));
}

function read(path: string, what: string): string {
	try {
		return readFileSync(path, "utf8");
	}
	catch (error) {
		throw new CliError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
	}
}

export function readPrivateKey(path: string): KeyObject {
	let key: KeyObject;
	try {
		key = createPrivateKey(read(path, "private key"));
	}
	catch (error) {
		if (error instanceof CliError)
			throw error;
		throw new CliError(`${path} is not a PEM private key`);
	}
	if (key.asymmetricKeyType !== "ed25519")
		throw new CliError(`${path} is a ${key.asymmetricKeyType} key; xs-fota signs with Ed25519`);
	return key;
}

/** Reads NAME.pub and checks that its key id belongs to its key and that the key is not of small order. */
export function readPublicKey(path: string): { keyId: string; publicKey: Uint8Array } {
	let parsed: Partial<PublicKeyFile>;
	try {
		parsed = JSON.parse(read(path, "public key"));
	}
	catch (error) {
		if (error instanceof CliError)
			throw error;
		throw new CliError(`${path} is not JSON`);
	}
	if (typeof parsed?.publicKey !== "string" || !/^[0-9a-f]{64}$/.test(parsed.publicKey))
		throw new CliError(`${path}: publicKey must be 64 lower-case hex characters`);
	const publicKey = new Uint8Array(Buffer.from(parsed.publicKey, "hex"));
	if (parsed.keyId !== keyIdOf(publicKey))
		throw new CliError(`${path}: keyId ${JSON.stringify(parsed.keyId)} does not match the public key (expected ${keyIdOf(publicKey)})`);
	if (isSmallOrder(publicKey))
		throw new CliError(`${path}: the public key is a point of small order; it would accept forged signatures`);
	if (!isCanonicalPoint(publicKey))
		throw new CliError(`${path}: the public key is not a canonical encoding (libsodium refuses it)`);
	return { keyId: parsed.keyId, publicKey };
}
