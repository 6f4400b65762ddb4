/*
 * Sim images (docs: README "The simulated board"). A 128-byte header, then a body of records.
 *   0 "XSFI"  4 u16 format 1  6 u16 header size 128  8 u32 body size  12 u32 record count
 *  16 SHA-256 of the body  48 entry specifier (32 bytes, NUL-padded)  80 version (32 bytes, NUL-padded)
 * 112 kind (8 bytes, NUL-padded ASCII; all zeros means "sim")  120 reserved (zeros)
 * 124 u32 CRC-32 (IEEE, as zlib) of bytes 0..123. All numbers little-endian.
 * A "sim" image's body is records; a "lin" image's body is an mc.so built by mcconfig, with no records.
 * A record: u8 kind (1 module, 2 alias), u8 0, u16 name length, u32 data length, name, data.
 * A module's name is its path in the build without ".js"; an alias maps a bare specifier to a module name.
 * simImageVerify makes simImageLoad's checks and hashes what the manifest signs from the same reads: one pass.
 * The SHA-256 here is libsodium's, unless the program links a stronger simSha256 (the sim host: OpenSSL's).
 */
#include "board.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_SIZE SIM_IMAGE_HEADER
#define FORMAT 1

typedef struct {
	uint8_t kind;
	const char* name;     /* NUL-terminated copy */
	const uint8_t* data;
	uint32_t length;
} simRecord;

struct simImage {
	uint8_t* body;        /* owned, or the flash's own bytes (borrowed) while simImageVerify checks them */
	int borrowed;
	uint32_t bodySize;
	simRecord* records;
	uint32_t count;
	char entry[33];
	char version[33];
	char kind[9];
	char* names;          /* storage of the records' NUL-terminated names */
};

/* libsodium's SHA-256, as weak definitions: a host may link faster ones with the same results (board.h) */
struct simSha256 { crypto_hash_sha256_state sodium; };

__attribute__((weak)) simSha256* simSha256Start(void)
{
	simSha256* state = malloc(sizeof(simSha256));
	if (state)
		crypto_hash_sha256_init(&state->sodium);
	return state;
}

__attribute__((weak)) void simSha256Update(simSha256* state, const void* data, size_t length)
{
	crypto_hash_sha256_update(&state->sodium, data, length);
}

__attribute__((weak)) void simSha256Finish(simSha256* state, uint8_t digest[32])
{
	crypto_hash_sha256_final(&state->sodium, digest);
	free(state);
}

static uint32_t simLE16(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t simLE32(const uint8_t* p) { return simLE16(p) | (simLE16(p + 2) << 16); }

static int simText(char* out, const uint8_t* field)
{
	int i;
	memcpy(out, field, 32);
	out[32] = 0;
	for (i = 0; out[i]; i++) {
		if ((out[i] < 0x20) || (out[i] > 0x7E))
			return 0;
	}
	return 1;
}

void simImageFree(simImage* image)
{
	if (image) {
		if (!image->borrowed)
			free(image->body);
		free(image->records);
		free(image->names);
		free(image);
	}
}

#define FAIL(...) do { snprintf(why, whySize, __VA_ARGS__); simImageFree(image); return NULL; } while (0)

static simImage* simParseRecords(simImage* image, char* why, size_t whySize)
{
	uint32_t at = 0, i, namesSize = 0;
	char* names;
	image->records = calloc(image->count ? image->count : 1, sizeof(simRecord));
	if (!image->records)
		FAIL("out of memory");
	for (i = 0; i < image->count; i++) {
		uint32_t nameLength, dataLength;
		if (image->bodySize - at < 8)
			FAIL("record %u runs past the body", i);
		nameLength = simLE16(image->body + at + 2);
		dataLength = simLE32(image->body + at + 4);
		if ((image->body[at] != 1 && image->body[at] != 2) || (nameLength == 0) || (image->bodySize - at - 8 < nameLength)
				|| (image->bodySize - at - 8 - nameLength < dataLength))
			FAIL("record %u is malformed", i);
		image->records[i].kind = image->body[at];
		image->records[i].data = image->body + at + 8 + nameLength;
		image->records[i].length = dataLength;
		namesSize += nameLength + 1;
		at += 8 + nameLength + dataLength;
	}
	if (at != image->bodySize)
		FAIL("%u bytes after the last record", image->bodySize - at);
	names = image->names = malloc(namesSize ? namesSize : 1);
	if (!names)
		FAIL("out of memory");
	at = 0;
	for (i = 0; i < image->count; i++) {
		uint32_t nameLength = simLE16(image->body + at + 2);
		memcpy(names, image->body + at + 8, nameLength);
		names[nameLength] = 0;
		image->records[i].name = names;
		names += nameLength + 1;
		at += 8 + nameLength + image->records[i].length;
	}
	return image;
}

/* The header's checks: a new image (body not read yet), or NULL with why. */
static simImage* simImageHeader(simBoard* board, const simPartition* partition, const uint8_t header[HEADER_SIZE], char* why, size_t whySize)
{
	simImage* image = NULL;
	if (memcmp(header, "XSFI", 4))
		FAIL("no image (bad magic)");
	if (simCrc32(0, header, 124) != simLE32(header + 124))
		FAIL("header CRC mismatch");
	if ((simLE16(header + 4) != FORMAT) || (simLE16(header + 6) != HEADER_SIZE))
		FAIL("unknown image format %u", simLE16(header + 4));
	image = calloc(1, sizeof(simImage));
	if (!image)
		FAIL("out of memory");
	image->bodySize = simLE32(header + 8);
	image->count = simLE32(header + 12);
	if (image->bodySize > partition->size - HEADER_SIZE)
		FAIL("body size %u does not fit the slot", image->bodySize);
	if (!simText(image->entry, header + 48) || !simText(image->version, header + 80) || !image->entry[0])
		FAIL("entry or version is not printable text");
	memcpy(image->kind, header + 112, 8);
	image->kind[8] = 0;
	if (!image->kind[0])
		strcpy(image->kind, "sim");
	else {
		size_t length = strlen(image->kind), i;
		for (i = length; i < 8; i++) {
			if (header[112 + i])
				FAIL("the image kind is not NUL-padded");
		}
		if (strspn(image->kind, "abcdefghijklmnopqrstuvwxyz0123456789") != length)
			FAIL("the image kind is not lower-case letters and digits");
	}
	if (board->kind && strcmp(image->kind, board->kind))
		FAIL("the image is for %s, this board runs %s images", image->kind, board->kind);
	if (strcmp(image->kind, "sim") && image->count)
		FAIL("a %s image holds no module records", image->kind);
	return image;
}

/* The body of an image whose header checked: read into memory of its own (simImageLoad: the image outlives any later
 * write to its slot), or, when view is set and the flash is mapped, its bytes in place (simImageVerify). */
static simImage* simImageReadBody(simBoard* board, const simPartition* partition, simImage* image, int view, char* why, size_t whySize)
{
	const uint8_t* bytes = view ? simFlashView(board, partition->offset + HEADER_SIZE, image->bodySize) : NULL;
	if (bytes) {
		image->body = (uint8_t*)bytes;
		image->borrowed = 1;
		return image;
	}
	image->body = malloc(image->bodySize ? image->bodySize : 1);
	if (!image->body)
		FAIL("out of memory");
	if (simFlashRead(board, partition->offset + HEADER_SIZE, image->body, image->bodySize))
		FAIL("flash error at %u", (unsigned)HEADER_SIZE);
	return image;
}

/* The body's checks, once image->body holds it: the header's SHA-256 of the body, then the records. */
static simImage* simImageBodyCheck(simImage* image, const uint8_t header[HEADER_SIZE], char* why, size_t whySize)
{
	uint8_t digest[32];
	simSha256* state = simSha256Start();
	if (!state)
		FAIL("out of memory for the body's SHA-256");
	simSha256Update(state, image->body, image->bodySize);
	simSha256Finish(state, digest);
	if (memcmp(digest, header + 16, sizeof(digest)))
		FAIL("body SHA-256 mismatch");
	return strcmp(image->kind, "sim") ? image : simParseRecords(image, why, whySize);
}

simImage* simImageLoad(simBoard* board, int slot, char* why, size_t whySize)
{
	const simPartition* partition = simOtaSlot(board, slot);
	uint8_t header[HEADER_SIZE];
	simImage* image = NULL;
	if (!partition)
		FAIL("no OTA slot %d", slot);
	if (simFlashRead(board, partition->offset, header, HEADER_SIZE))
		FAIL("cannot read the header");
	image = simImageHeader(board, partition, header, why, whySize);
	if (!image || !(image = simImageReadBody(board, partition, image, 0, why, whySize)))
		return NULL;
	return simImageBodyCheck(image, header, why, whySize);
}

/* Hashes the part of [at, at + size) of the slot that lies below length. */
static void simHashPrefix(simSha256* state, const uint8_t* bytes, uint32_t at, uint32_t size, uint32_t length)
{
	if (at < length)
		simSha256Update(state, bytes, (length - at < size) ? length - at : size);
}

int simImageVerify(simBoard* board, int slot, uint32_t length, uint8_t digest[32], char* why, size_t whySize)
{
	const simPartition* partition = simOtaSlot(board, slot);
	simSha256* state;
	uint8_t header[HEADER_SIZE], block[SIM_SECTOR], unused[32];
	simImage* image;
	uint32_t done;
	int result = 0;
	char reason[160];
	if (!partition || (length > partition->size) || (partition->size < HEADER_SIZE)) {
		snprintf(why, whySize, "%u bytes do not fit OTA slot %d", (unsigned)length, slot);
		return -2;
	}
	state = simSha256Start();
	if (!state) {
		snprintf(why, whySize, "out of memory for the SHA-256");
		return -2;
	}
	if (simFlashRead(board, partition->offset, header, HEADER_SIZE)) {
		simSha256Finish(state, unused);
		snprintf(why, whySize, "flash error at 0");
		return -2;
	}
	simHashPrefix(state, header, 0, HEADER_SIZE, length);
	done = HEADER_SIZE;
	image = simImageHeader(board, partition, header, reason, sizeof(reason));
	if (image) {
		if (!(image = simImageReadBody(board, partition, image, 1, why, whySize))) {
			simSha256Finish(state, unused);
			return -2;
		}
		simHashPrefix(state, image->body, HEADER_SIZE, image->bodySize, length);
		done += image->bodySize;
		image = simImageBodyCheck(image, header, reason, sizeof(reason));
	}
	if (image)
		simImageFree(image);
	else {
		snprintf(why, whySize, "%s", reason);
		result = -1;
	}
	for (; done < length; done += sizeof(block)) { /* what the manifest signs past the image, if anything */
		uint32_t size = (length - done < sizeof(block)) ? length - done : (uint32_t)sizeof(block);
		if (simFlashRead(board, partition->offset + done, block, size)) {
			simSha256Finish(state, unused);
			snprintf(why, whySize, "flash error at %u", (unsigned)done);
			return -2;
		}
		simSha256Update(state, block, size);
	}
	simSha256Finish(state, digest);
	return result;
}

const char* simImageEntry(simImage* image) { return image->entry; }
const char* simImageVersion(simImage* image) { return image->version; }
const char* simImageKind(simImage* image) { return image->kind; }

const uint8_t* simImageBody(simImage* image, uint32_t* length)
{
	*length = image->bodySize;
	return image->body;
}

static const simRecord* simFind(simImage* image, uint8_t kind, const char* name)
{
	uint32_t i;
	for (i = 0; i < image->count; i++) {
		if ((image->records[i].kind == kind) && !strcmp(image->records[i].name, name))
			return &image->records[i];
	}
	return NULL;
}

const char* simImageResolve(simImage* image, const char* specifier)
{
	const simRecord* record = simFind(image, 1, specifier);
	if (record)
		return record->name;
	record = simFind(image, 2, specifier);
	if (record) {
		uint32_t i;
		for (i = 0; i < image->count; i++) {
			const simRecord* module = &image->records[i];
			if ((module->kind == 1) && (strlen(module->name) == record->length) && !memcmp(module->name, record->data, record->length))
				return module->name;
		}
	}
	return NULL;
}

const uint8_t* simImageSource(simImage* image, const char* name, uint32_t* length)
{
	const simRecord* record = simFind(image, 1, name);
	if (!record)
		return NULL;
	*length = record->length;
	return record->data;
}
