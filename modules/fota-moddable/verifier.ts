// The verifier port over the native crypto modules (libsodium; the SHA accelerator on the ESP32).
import { verify } from "crypto/ed25519";
import SHA256 from "crypto/sha256";
import type { Hash, Verifier } from "fota/ports";

export const nativeVerifier: Verifier = {
	verify: (signature, message, publicKey) => verify(signature, message, publicKey),
	sha256(): Hash {
		const sha = new SHA256();
		return {
			update: (data) => { sha.update(data); },
			digest: () => new Uint8Array(sha.digest()),
		};
	},
};
