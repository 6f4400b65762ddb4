/*
 * `partition` on the ESP32, over ESP-IDF's esp_partition_* and esp_ota_* (app_update component).
 * The update is written with esp_partition_erase_range/esp_partition_write at the offsets the client chooses,
 * so a download resumes anywhere (as esp_ota_write_with_offset allows) and the slot is erased sector by sector
 * as data arrives, never all at once (a whole-slot erase trips the task watchdog: esp-idf#578, #5591).
 * esp_ota_set_boot_partition verifies the image before it touches otadata, always: ESP-IDF has no public way to
 * write otadata without that check, and writing otadata behind its back would bypass what it checks (segments,
 * the appended SHA-256, Secure Boot's signature when enabled). So on the ESP32 an update reads the slot twice: once
 * in verify (our SHA-256, the one the manifest signs) and once in esp_ota_set_boot_partition (docs/format.md).
 * Includes are written as Moddable's own modules write them: Moddable's module include list has components/ but
 * not app_update/include. The slot hash: on ESP-IDF 6, whose Mbed TLS 4 publishes no mbedtls_sha256_* and whose
 * PSA headers are not on Moddable's include list, libsodium (the crypto module's dependency, whose SHA-256 runs on
 * the accelerator through PSA, modules/crypto/README.md); on 5.x, mbedtls_sha256 (the accelerator).
 */
#include "xsmc.h"
#include "xsHost.h"
#include "esp_idf_version.h"
#if __has_include("esp_ota_ops.h")
	#include "esp_ota_ops.h"                      /* an ESP-IDF component's include list */
#else
	#include "app_update/include/esp_ota_ops.h"   /* Moddable's (components/ only), as its own modules include it */
#endif
#include "esp_partition.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include <string.h>
#if ESP_IDF_VERSION_MAJOR >= 6
	#include <sodium.h>
#else
	#include "mbedtls/sha256.h"
#endif

#define SECTOR 4096

static const esp_partition_t* slotOf(xsMachine* the, int index, const char* label)
{
	const esp_partition_t* partition;
	if ((index < 0) || (index > 15))
		xsRangeError("no OTA slot %d", index);
	partition = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0 + index, NULL);
	if (!partition || (label && strcmp(partition->label, label)))
		xsRangeError("no OTA slot %d labelled %s", index, label ? label : "?");
	return partition;
}

/* The slot named by arguments 0 (index) and 1 (label); writable: refuse the running slot. */
static const esp_partition_t* targetOf(xsMachine* the, int writable)
{
	const esp_partition_t* partition;
	if (xsmcArgc < 2)
		xsTypeError("expects a slot");
	partition = slotOf(the, xsmcToInteger(xsArg(0)), xsmcToString(xsArg(1)));
	if (writable && (partition == esp_ota_get_running_partition()))
		xsUnknownError("%s is the running slot", partition->label);
	return partition;
}

static uint32_t rangeOf(xsMachine* the, xsSlot* slot, const char* name)
{
	double value = xsmcToNumber(*slot);
	if (!(value >= 0) || (value != (double)(uint32_t)value))
		xsRangeError("%s must be an integer >= 0", name);
	return (uint32_t)value;
}

static void setSlot(xsMachine* the, const esp_partition_t* partition)
{
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetString(xsVar(0), (char*)partition->label);
	xsmcSet(xsResult, xsID("label"), xsVar(0));
	xsmcSetInteger(xsVar(0), partition->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_0);
	xsmcSet(xsResult, xsID("index"), xsVar(0));
	xsmcSetNumber(xsVar(0), partition->size);
	xsmcSet(xsResult, xsID("size"), xsVar(0));
}

static const char* stateName(esp_ota_img_states_t state)
{
	switch (state) {
	case ESP_OTA_IMG_NEW: return "new";
	case ESP_OTA_IMG_PENDING_VERIFY: return "pending-verify";
	case ESP_OTA_IMG_VALID: return "valid";
	case ESP_OTA_IMG_INVALID: return "invalid";
	case ESP_OTA_IMG_ABORTED: return "aborted";
	default: return "undefined";
	}
}

void xs_partition_running(xsMachine* the)
{
	const esp_partition_t* running = esp_ota_get_running_partition();
	esp_ota_img_states_t state = ESP_OTA_IMG_UNDEFINED;
	if (!running || (running->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_0) || (running->subtype > ESP_PARTITION_SUBTYPE_APP_OTA_15))
		xsUnknownError("Partition.running: the running app is not in an OTA slot");
	if (esp_ota_get_state_partition(running, &state) != ESP_OK)
		state = ESP_OTA_IMG_UNDEFINED; /* otadata blank or corrupt: booted by the bootloader's fallback */
	setSlot(the, running);
	xsmcSetString(xsVar(0), (char*)stateName(state));
	xsmcSet(xsResult, xsID("state"), xsVar(0));
}

void xs_partition_next(xsMachine* the)
{
	const esp_partition_t* next = esp_ota_get_next_update_partition(NULL);
	if (!next || (next == esp_ota_get_running_partition()))
		xsUnknownError("Partition.next: no inactive OTA slot");
	setSlot(the, next);
}

void xs_partition_erase(xsMachine* the)
{
	const esp_partition_t* partition = targetOf(the, 1);
	uint32_t offset = rangeOf(the, &xsArg(2), "offset"), length = rangeOf(the, &xsArg(3), "length"), at;
	if ((offset % SECTOR) || (length % SECTOR))
		xsRangeError("Partition.erase: %s: offset %u and length %u must be multiples of %d", partition->label, (unsigned)offset, (unsigned)length, SECTOR);
	if ((offset > partition->size) || (length > partition->size - offset))
		xsRangeError("Partition.erase: %u bytes at %u do not fit %s", (unsigned)length, (unsigned)offset, partition->label);
	for (at = offset; at < offset + length; at += SECTOR) {
		esp_err_t err = esp_partition_erase_range(partition, at, SECTOR);
		if (err != ESP_OK)
			xsUnknownError("Partition.erase: %s at %u: %s", partition->label, (unsigned)at, esp_err_to_name(err));
		if (((at - offset) / SECTOR) % 16 == 15)
			vTaskDelay(1); /* let the idle task and Wi-Fi run during long erases */
	}
}

/* NOR flash only clears bits: read back and compare, so a write over unerased bytes fails as on the sim. */
void xs_partition_write(xsMachine* the)
{
	const esp_partition_t* partition = targetOf(the, 1);
	uint32_t offset = rangeOf(the, &xsArg(2), "offset");
	uint8_t check[128];
	void* data;
	xsUnsignedValue length, done;
	esp_err_t err;
	xsmcGetBufferReadable(xsArg(3), &data, &length);
	if ((offset > partition->size) || (length > partition->size - offset))
		xsRangeError("Partition.write: %u bytes at %u do not fit %s", (unsigned)length, (unsigned)offset, partition->label);
	err = esp_partition_write(partition, offset, data, length);
	if (err != ESP_OK)
		xsUnknownError("Partition.write: %s at %u: %s", partition->label, (unsigned)offset, esp_err_to_name(err));
	for (done = 0; done < length; done += sizeof(check)) {
		xsUnsignedValue count = ((length - done) < sizeof(check)) ? (length - done) : sizeof(check);
		xsmcGetBufferReadable(xsArg(3), &data, &length); /* the buffer may move while we wait on flash */
		if ((esp_partition_read(partition, offset + done, check, count) != ESP_OK) || memcmp(check, (uint8_t*)data + done, count))
			xsUnknownError("Partition.write: %s at %u is not erased (NOR flash can only clear bits)", partition->label, (unsigned)(offset + done));
	}
}

void xs_partition_read(xsMachine* the)
{
	const esp_partition_t* partition = targetOf(the, 0);
	uint32_t offset = rangeOf(the, &xsArg(2), "offset"), length = rangeOf(the, &xsArg(3), "length");
	esp_err_t err;
	if ((offset > partition->size) || (length > partition->size - offset))
		xsRangeError("Partition.read: %u bytes at %u do not fit %s", (unsigned)length, (unsigned)offset, partition->label);
	xsmcSetArrayBuffer(xsResult, NULL, length);
	err = esp_partition_read(partition, offset, xsmcToArrayBuffer(xsResult), length);
	if (err != ESP_OK)
		xsUnknownError("Partition.read: %s at %u: %s", partition->label, (unsigned)offset, esp_err_to_name(err));
}

/* Reads the slot's first length bytes once, in 1 KB blocks, and hashes them in C (on the SHA accelerator), so that
 * no image data passes through JS buffers; *first gets the first byte. Throws, naming the operation (what), the slot
 * and the offset, when a read fails. */
static void hashSlot(xsMachine* the, const esp_partition_t* partition, uint32_t length, const char* what, uint8_t digest[32], uint8_t* first)
{
	uint8_t block[1024];
	uint32_t at, where = 0;
	esp_err_t err = ESP_OK;
#if ESP_IDF_VERSION_MAJOR >= 6
	crypto_hash_sha256_state sha;
#else
	mbedtls_sha256_context sha;
#endif
	if (length > partition->size)
		xsRangeError("%s: %u bytes do not fit %s", what, (unsigned)length, partition->label);
#if ESP_IDF_VERSION_MAJOR >= 6
	crypto_hash_sha256_init(&sha);
#else
	mbedtls_sha256_init(&sha);
	mbedtls_sha256_starts(&sha, 0);
#endif
	for (at = 0; (at < length) && (err == ESP_OK); at += sizeof(block)) {
		uint32_t size = (length - at < sizeof(block)) ? length - at : sizeof(block);
		where = at;
		err = esp_partition_read(partition, at, block, size);
		if (err == ESP_OK) {
			if (at == 0)
				*first = block[0];
#if ESP_IDF_VERSION_MAJOR >= 6
			crypto_hash_sha256_update(&sha, block, size);
#else
			mbedtls_sha256_update(&sha, block, size);
#endif
		}
	}
#if ESP_IDF_VERSION_MAJOR >= 6
	crypto_hash_sha256_final(&sha, digest);
#else
	mbedtls_sha256_finish(&sha, digest);
	mbedtls_sha256_free(&sha);
#endif
	if (err != ESP_OK)
		xsUnknownError("%s: %s at %u: %s", what, partition->label, (unsigned)where, esp_err_to_name(err));
}

/* sha256(index, label, length): the SHA-256 of the slot's first length bytes. */
void xs_partition_sha256(xsMachine* the)
{
	const esp_partition_t* partition = targetOf(the, 0);
	uint8_t digest[32], first = 0;
	hashSlot(the, partition, rangeOf(the, &xsArg(2), "length"), "Partition.sha256", digest, &first);
	xsmcSetArrayBuffer(xsResult, digest, sizeof(digest));
}

/* verify(index, label, length, sha256): one pass over the slot's first length bytes, hashed in C. undefined when
 * the SHA-256 matches and the image starts as an ESP app image does (magic 0xE9, the first check of
 * esp_image_verify); otherwise {reason: "digest-mismatch" | "not-bootable", detail}. The full image check stays
 * esp_ota_set_boot_partition's, in activate: nothing here lets activate skip it. */
#define ESP_APP_IMAGE_MAGIC 0xE9
void xs_partition_verify(xsMachine* the)
{
	const esp_partition_t* partition = targetOf(the, 0);
	uint32_t length = rangeOf(the, &xsArg(2), "length");
	uint8_t digest[32], expected[32], magic = 0;
	const char* reason = NULL;
	char detail[200];
	void* data;
	xsUnsignedValue size;
	if (xsmcArgc < 4)
		xsTypeError("Partition.verify: expects a SHA-256");
	xsmcGetBufferReadable(xsArg(3), &data, &size);
	if (size != sizeof(expected))
		xsRangeError("Partition.verify: %s: the SHA-256 must be 32 bytes, not %u", partition->label, (unsigned)size);
	memcpy(expected, data, sizeof(expected));
	hashSlot(the, partition, length, "Partition.verify", digest, &magic);
	if (memcmp(digest, expected, sizeof(digest))) {
		reason = "digest-mismatch";
		snprintf(detail, sizeof(detail), "%s: the SHA-256 of its first %u bytes is not the signed one", partition->label, (unsigned)length);
	}
	else if (magic != ESP_APP_IMAGE_MAGIC) {
		reason = "not-bootable";
		snprintf(detail, sizeof(detail), "%s holds no ESP app image (magic 0x%02x, not 0x%02x)", partition->label, magic, ESP_APP_IMAGE_MAGIC);
	}
	if (!reason) {
		xsmcSetUndefined(xsResult);
		return;
	}
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetString(xsVar(0), (char*)reason);
	xsmcSet(xsResult, xsID("reason"), xsVar(0));
	xsmcSetString(xsVar(0), detail);
	xsmcSet(xsResult, xsID("detail"), xsVar(0));
}

/* Before the inactive slot is rewritten: esp_ota_invalidate_inactive_ota_data_slot erases the otadata sector
 * whose entry selects it (ESP_FAIL when there is none: nothing to do). Then no entry may still boot the slot. */
void xs_partition_invalidate(xsMachine* the)
{
	const esp_partition_t* partition = targetOf(the, 1);
	esp_ota_img_states_t state;
	esp_err_t err = esp_ota_invalidate_inactive_ota_data_slot();
	if ((err != ESP_OK) && (err != ESP_FAIL))
		xsUnknownError("Partition.invalidate: %s: %s", partition->label, esp_err_to_name(err));
	if ((esp_ota_get_state_partition(partition, &state) == ESP_OK) && (state != ESP_OTA_IMG_INVALID) && (state != ESP_OTA_IMG_ABORTED))
		xsUnknownError("Partition.invalidate: %s: otadata still selects it (state %s)", partition->label, stateName(state));
}

void xs_partition_activate(xsMachine* the)
{
	const esp_partition_t* partition = targetOf(the, 0);
	/* verifies the image (reads it again, even after verify: see the top of this file), then writes otadata (NEW) */
	esp_err_t err = esp_ota_set_boot_partition(partition);
	if (err != ESP_OK)
		xsUnknownError("Partition.activate: %s: %s", partition->label, esp_err_to_name(err));
}

void xs_partition_mark_valid(xsMachine* the)
{
	esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
	if (err != ESP_OK)
		xsUnknownError("Partition.markValid: %s", esp_err_to_name(err));
}

void xs_partition_mark_invalid_and_reboot(xsMachine* the)
{
	esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot(); /* returns only when rollback is impossible */
	xsUnknownError("Partition.markInvalidAndReboot: %s", esp_err_to_name(err));
}
