/*
 * The board's SHA-256 (board/board.h) in the sim host: OpenSSL's, already in the process for libcurl's TLS. It uses
 * the CPU's SHA instructions where there are some (a few GB/s, against libsodium's portable C at a few hundred MB/s),
 * as an ESP32 hashes in its SHA accelerator, so that the sim board's read-back of a slot costs what the reads cost
 * rather than the hashing. Same digests: these replace the weak libsodium definitions in board/image.c, which the
 * desktop simulator's build (hosts/lin/manifest.json) keeps.
 */
#include "board/board.h"
#include <openssl/evp.h>

struct simSha256 { EVP_MD_CTX* context; };

simSha256* simSha256Start(void)
{
	simSha256* state = malloc(sizeof(simSha256));
	if (!state)
		return NULL;
	state->context = EVP_MD_CTX_new();
	if (!state->context || !EVP_DigestInit_ex(state->context, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(state->context);
		free(state);
		return NULL;
	}
	return state;
}

void simSha256Update(simSha256* state, const void* data, size_t length)
{
	if (length && !EVP_DigestUpdate(state->context, data, length))
		abort(); /* OpenSSL's SHA-256 over memory cannot fail; if it does, no digest may be trusted */
}

void simSha256Finish(simSha256* state, uint8_t digest[32])
{
	unsigned int size = 0;
	if (!EVP_DigestFinal_ex(state->context, digest, &size) || (size != 32))
		abort();
	EVP_MD_CTX_free(state->context);
	free(state);
}
