// The verifier port over the native Ed25519 module (libsodium, on every target).
import { verify } from "crypto/ed25519";
import type { Verifier } from "fota/ports";

export const nativeVerifier: Verifier = {
	verify: (signature, message, publicKey) => verify(signature, message, publicKey),
};
