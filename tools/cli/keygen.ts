// xs-fota keygen: a new Ed25519 signing key pair, NAME.key (private, 0600) and NAME.pub (JSON).
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.js";
import { keyIdOf, rawPublicKey } from "./keys.js";
import type { Command } from "./options.js";

export const keygen: Command = {
	name: "keygen",
	usage: `usage: xs-fota keygen --out DIR [--name NAME]

Writes DIR/NAME.key (the Ed25519 private key, PKCS#8 PEM, mode 0600) and DIR/NAME.pub
(JSON: keyId and the raw public key in hex). NAME defaults to "signing". Never overwrites.`,
	options: { out: { required: true }, name: {} },
	run(values) {
		const name = values.name ?? "signing";
		if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
			throw new CliError(`--name must be a plain file name (letters, digits, . _ -), not ${JSON.stringify(name)}`);
		const dir = values.out!;
		const keyPath = join(dir, `${name}.key`), pubPath = join(dir, `${name}.pub`);
		for (const path of [keyPath, pubPath])
			if (existsSync(path))
				throw new CliError(`${path} already exists; refusing to overwrite a key`);
		mkdirSync(dir, { recursive: true });
		const { privateKey, publicKey } = generateKeyPairSync("ed25519");
		const raw = rawPublicKey(publicKey);
		const keyId = keyIdOf(raw);
		// "wx": fails if the file appeared meanwhile; the mode applies at creation.
		writeFileSync(keyPath, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
		writeFileSync(pubPath, JSON.stringify({ keyId, publicKey: Buffer.from(raw).toString("hex") }, null, 2) + "\n", { flag: "wx" });
		console.log(`key id ${keyId}\nprivate key ${keyPath} (keep it secret)\npublic key  ${pubPath}`);
	},
};
