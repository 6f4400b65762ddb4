/*
 * Streaming SHA-256 for XS, over libsodium's crypto_hash_sha256.
 * The same file builds into the sim host, Moddable's Linux simulator and the ESP32, where ESP-IDF's
 * libsodium component can route SHA-256 to the hardware accelerator (see modules/crypto/manifest.json).
 */
#include "xsmc.h"
#include "xsHost.h"
#include <sodium.h>
#include <stdlib.h>

typedef struct {
	crypto_hash_sha256_state state;
	int finished;
} xsSHA256;

void xs_sha256_destructor(void* data)
{
	if (data) {
		sodium_memzero(data, sizeof(xsSHA256));
		free(data);
	}
}

static xsSHA256* xsSHA256Of(xsMachine* the)
{
	xsSHA256* sha = xsmcGetHostDataValidate(xsThis, xs_sha256_destructor);
	if (!sha)
		xsTypeError("SHA256: not initialized");
	return sha;
}

void xs_sha256_init(xsMachine* the)
{
	xsSHA256* sha;
	if (sodium_init() < 0)
		xsUnknownError("SHA256: libsodium failed to initialize");
	sha = xsmcGetHostData(xsThis);
	if (!sha) {
		sha = malloc(sizeof(xsSHA256));
		if (!sha)
			xsRangeError("SHA256: out of memory");
		xsmcSetHostData(xsThis, sha);
	}
	crypto_hash_sha256_init(&sha->state);
	sha->finished = 0;
}

/* update(data): data is an ArrayBuffer, a Uint8Array or a DataView */
void xs_sha256_update(xsMachine* the)
{
	xsSHA256* sha = xsSHA256Of(the);
	void* data;
	xsUnsignedValue count;
	if (sha->finished)
		xsTypeError("SHA256: update after digest; call reset() first");
	if (xsmcArgc < 1)
		xsTypeError("SHA256: update needs data");
	xsmcGetBufferReadable(xsArg(0), &data, &count);
	crypto_hash_sha256_update(&sha->state, data, count);
}

/* digest() -> ArrayBuffer(32); the hash then takes no more data until reset() */
void xs_sha256_digest(xsMachine* the)
{
	xsSHA256* sha = xsSHA256Of(the);
	unsigned char out[crypto_hash_sha256_BYTES];
	if (sha->finished)
		xsTypeError("SHA256: digest already taken; call reset() first");
	crypto_hash_sha256_final(&sha->state, out);
	sha->finished = 1;
	xsmcSetArrayBuffer(xsResult, out, sizeof(out));
}
