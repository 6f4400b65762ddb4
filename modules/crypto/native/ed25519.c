/*
 * Ed25519 detached-signature verification for XS, over libsodium's crypto_sign_verify_detached.
 * libsodium is strict: it rejects a non-canonical S (S >= L), a small-order public key or R, and a
 * non-canonical encoding of either point. The same file builds into the sim host, Moddable's Linux
 * simulator (system libsodium) and the ESP32 (ESP-IDF's libsodium component).
 */
#include "xsmc.h"
#include "xsHost.h"
#include <sodium.h>

/* Reads argument `index` as a buffer (ArrayBuffer, Uint8Array or DataView) of `expected` bytes, or of any
 * length when expected is 0. xsmcGetBufferReadable throws a TypeError for anything else. */
static void* xsEd25519Argument(xsMachine* the, int index, const char* name, xsUnsignedValue expected, xsUnsignedValue* count)
{
	void* data;
	xsmcGetBufferReadable(xsArg(index), &data, count);
	if (expected && (*count != expected))
		xsRangeError("ed25519.verify: %s must be %u bytes, not %u", name, (unsigned)expected, (unsigned)*count);
	return data;
}

/* verify(signature, message, publicKey) -> boolean */
void xs_ed25519_verify(xsMachine* the)
{
	xsUnsignedValue signatureBytes, messageBytes, keyBytes;
	const unsigned char *signature, *message, *key;
	if (xsmcArgc != 3)
		xsTypeError("ed25519.verify: expects (signature, message, publicKey)");
	if (sodium_init() < 0)
		xsUnknownError("ed25519.verify: libsodium failed to initialize");
	/* The buffers are only read, and nothing allocates in XS between here and the call, so the
	 * pointers stay valid (ArrayBuffer memory may move at a garbage collection). */
	signature = xsEd25519Argument(the, 0, "signature", crypto_sign_BYTES, &signatureBytes);
	message = xsEd25519Argument(the, 1, "message", 0, &messageBytes);
	key = xsEd25519Argument(the, 2, "publicKey", crypto_sign_PUBLICKEYBYTES, &keyBytes);
	xsmcSetBoolean(xsResult, crypto_sign_verify_detached(signature, message, messageBytes, key) == 0);
}
