/*
 * Streaming SHA-256 for XS.
 * Hosts (the sim host, Moddable's Linux simulator) use libsodium's crypto_hash_sha256.
 * On the ESP32 (ESP-IDF 5.x, mbedTLS 2.x/3.x) it calls mbedTLS directly, whose SHA-256 runs on the hardware
 * accelerator when CONFIG_MBEDTLS_HARDWARE_SHA=y (ESP-IDF's default). libsodium's own option
 * CONFIG_LIBSODIUM_USE_MBEDTLS_SHA cannot give that there: its wrapper refuses a hardware (ALT) mbedTLS
 * SHA context. With mbedTLS 4 (PSA) the wrapper can, so libsodium is used again. See modules/crypto/README.md.
 */
#include "xsmc.h"
#include "xsHost.h"
#include <sodium.h>
#include <stdlib.h>

/* ESP-IDF 6 ships Mbed TLS 4, whose headers need TF-PSA-Crypto's include folders, which Moddable's module include
 * list does not have: the IDF version decides, before any Mbed TLS header is read. */
#if defined(ESP_PLATFORM)
	#include "esp_idf_version.h"
	#if ESP_IDF_VERSION_MAJOR < 6
		#define XSFOTA_USE_MBEDTLS 1
	#endif
#elif defined(XSFOTA_SHA256_MBEDTLS)
	#include <mbedtls/version.h>
	#if MBEDTLS_VERSION_NUMBER < 0x04000000
		#define XSFOTA_USE_MBEDTLS 1
	#endif
#endif

#ifdef XSFOTA_USE_MBEDTLS
	#include <mbedtls/sha256.h>
	#if MBEDTLS_VERSION_NUMBER < 0x03000000
		#define sha256_starts(ctx) mbedtls_sha256_starts_ret(ctx, 0)
		#define sha256_update(ctx, data, count) mbedtls_sha256_update_ret(ctx, data, count)
		#define sha256_finish(ctx, out) mbedtls_sha256_finish_ret(ctx, out)
	#else
		#define sha256_starts(ctx) mbedtls_sha256_starts(ctx, 0)
		#define sha256_update(ctx, data, count) mbedtls_sha256_update(ctx, data, count)
		#define sha256_finish(ctx, out) mbedtls_sha256_finish(ctx, out)
	#endif
	typedef mbedtls_sha256_context xsSHA256State;
	/* mbedtls_sha256_free releases the hardware engine if this context holds it. */
	#define sha256_begin(state) (mbedtls_sha256_init(state), sha256_starts(state))
	#define sha256_release(state) mbedtls_sha256_free(state)
#else
	typedef crypto_hash_sha256_state xsSHA256State;
	#define sha256_begin(state) crypto_hash_sha256_init(state)
	#define sha256_update(state, data, count) crypto_hash_sha256_update(state, data, count)
	#define sha256_finish(state, out) crypto_hash_sha256_final(state, out)
	#define sha256_release(state) ((void)(state))
#endif

typedef struct {
	xsSHA256State state;
	int started;
	int finished;
} xsSHA256;

void xs_sha256_destructor(void* data)
{
	xsSHA256* sha = data;
	if (sha) {
		if (sha->started && !sha->finished)
			sha256_release(&sha->state);
		sodium_memzero(sha, sizeof(xsSHA256));
		free(sha);
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
		sha = calloc(1, sizeof(xsSHA256));
		if (!sha)
			xsRangeError("SHA256: out of memory");
		xsmcSetHostData(xsThis, sha);
	}
	else if (sha->started && !sha->finished)
		sha256_release(&sha->state);
	if (sha256_begin(&sha->state) != 0)
		xsUnknownError("SHA256: init failed");
	sha->started = 1;
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
	if (sha256_update(&sha->state, data, count) != 0)
		xsUnknownError("SHA256: update failed");
}

/* digest() -> ArrayBuffer(32); the hash then takes no more data until reset() */
void xs_sha256_digest(xsMachine* the)
{
	xsSHA256* sha = xsSHA256Of(the);
	unsigned char out[crypto_hash_sha256_BYTES];
	int status;
	if (sha->finished)
		xsTypeError("SHA256: digest already taken; call reset() first");
	status = sha256_finish(&sha->state, out);
	sha256_release(&sha->state);
	sha->finished = 1;
	if (status != 0)
		xsUnknownError("SHA256: digest failed");
	xsmcSetArrayBuffer(xsResult, out, sizeof(out));
}
