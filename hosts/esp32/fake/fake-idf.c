/*
 * A fake of the ESP-IDF functions that the ESP32 natives (the C in each module's esp32 folder) call, so that CI compiles and runs
 * those natives in our host (build/sim/xsfota-esp32) without ESP-IDF. Written by us; its prototypes are
 * ESP-IDF v6.0's (hosts/esp32/fake/include). It models what the natives rely on:
 *   flash     two 256 KB OTA slots with NOR rules (erase to 0xFF by 4 KB sector; a write only clears bits);
 *   otadata   a state per slot and a boot slot; esp_ota_set_boot_partition accepts only an ESP app image (magic 0xE9),
 *             and reads the slot as esp_image_verify does (counted as the image's bytes up to the last non-0xFF one);
 *   counters  bytes read from each slot (esp_partition_read and the image check), sector erases of each slot;
 *   NVS       the fotacfg partition's "xsfota" blobs: "config" (from XSFOTA_FAKE_CONFIG), "config1", "config2";
 *   task WDT  its configuration and users, as esp_task_wdt_* leave them.
 * The device it starts as comes from the environment: XSFOTA_FAKE_RUNNING (0 or 1), XSFOTA_FAKE_STATE (the running
 * slot's esp_ota_img_states_t, as a number: 1 is PENDING_VERIFY; VALID by default), XSFOTA_FAKE_OTHER (the other slot's
 * state; none by default), XSFOTA_FAKE_RESET (esp_reset_reason_t, as a number; POWERON by default),
 * XSFOTA_FAKE_CONFIG (the config blob). Faults live here only:
 * XSFOTA_FAKE_NVS_FAIL=second makes the second nvs_get_blob of a handle fail. A reset (esp_restart,
 * esp_ota_mark_app_invalid_rollback_and_reboot) prints the fake's state and exits with status 75.
 * The native xs_fake_idf_state() returns that state as JSON (states as esp_ota_img_states_t numbers), for the tests.
 */
#include "xsmc.h"
#include "esp_ota_ops.h"
#include "esp_system.h"
#include "esp_task_wdt.h"
#include "nvs_flash.h"
#include "freertos/task.h"
#include "sdkconfig.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_SIZE (256u * 1024u)
#define SECTOR 4096u
#define RESET_EXIT 75

static esp_partition_t gxSlots[2] = {
	{ NULL, ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, 0x20000, SLOT_SIZE, SECTOR, "ota_0", false, false },
	{ NULL, ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, 0x60000, SLOT_SIZE, SECTOR, "ota_1", false, false },
};
static uint8_t* gxFlash[2];
static esp_ota_img_states_t gxStates[2];
static int gxRunning = -1, gxBoot = -1;
static esp_task_wdt_config_t gxWdt = { CONFIG_ESP_TASK_WDT_TIMEOUT_S * 1000, 3, true }; /* as the startup code leaves it */
static int gxWdtReconfigures = 0, gxWdtUsers = 0, gxWdtResets = 0, gxNvsReads = 0;
static unsigned long gxReads[2], gxErases[2], gxValidations[2];

static void start(void)
{
	const char* running = getenv("XSFOTA_FAKE_RUNNING");
	const char* state = getenv("XSFOTA_FAKE_STATE");
	int i;
	if (gxRunning >= 0)
		return;
	for (i = 0; i < 2; i++) {
		gxFlash[i] = malloc(SLOT_SIZE);
		memset(gxFlash[i], 0xFF, SLOT_SIZE);
		gxStates[i] = ESP_OTA_IMG_UNDEFINED;
	}
	gxRunning = gxBoot = (running && !strcmp(running, "1")) ? 1 : 0;
	gxStates[gxRunning] = (state && *state) ? (esp_ota_img_states_t)strtoul(state, NULL, 0) : ESP_OTA_IMG_VALID;
	if ((state = getenv("XSFOTA_FAKE_OTHER")) && *state)
		gxStates[1 - gxRunning] = (esp_ota_img_states_t)strtoul(state, NULL, 0);
}

static int indexOf(const esp_partition_t* partition)
{
	start();
	if (partition == &gxSlots[0])
		return 0;
	if (partition == &gxSlots[1])
		return 1;
	return -1;
}

static void printState(FILE* out)
{
	fprintf(out, "{\"running\":%d,\"boot\":%d,\"states\":[%u,%u],\"reads\":[%lu,%lu],\"erases\":[%lu,%lu],\"validations\":[%lu,%lu],\"wdt\":{\"timeout_ms\":%u,\"idle_core_mask\":%u,"
		"\"trigger_panic\":%s,\"reconfigures\":%d,\"users\":%d,\"resets\":%d}}\n", gxRunning, gxBoot, (unsigned)gxStates[0],
		(unsigned)gxStates[1], gxReads[0], gxReads[1], gxErases[0], gxErases[1], gxValidations[0], gxValidations[1], (unsigned)gxWdt.timeout_ms, (unsigned)gxWdt.idle_core_mask, gxWdt.trigger_panic ? "true" : "false",
		gxWdtReconfigures, gxWdtUsers, gxWdtResets);
}

static void reset(const char* why) __attribute__((noreturn));
static void reset(const char* why)
{
	printf("fake-idf reset (%s) ", why);
	printState(stdout);
	fflush(stdout);
	exit(RESET_EXIT);
}

const char* esp_err_to_name(esp_err_t code)
{
	switch (code) {
	case ESP_OK: return "ESP_OK";
	case ESP_FAIL: return "ESP_FAIL";
	case ESP_ERR_INVALID_ARG: return "ESP_ERR_INVALID_ARG";
	case ESP_ERR_INVALID_SIZE: return "ESP_ERR_INVALID_SIZE";
	case ESP_ERR_INVALID_STATE: return "ESP_ERR_INVALID_STATE";
	case ESP_ERR_NOT_FOUND: return "ESP_ERR_NOT_FOUND";
	case ESP_ERR_NVS_NOT_FOUND: return "ESP_ERR_NVS_NOT_FOUND";
	case ESP_ERR_NVS_INVALID_LENGTH: return "ESP_ERR_NVS_INVALID_LENGTH";
	case ESP_ERR_NVS_READ_ONLY: return "ESP_ERR_NVS_READ_ONLY";
	case ESP_ERR_OTA_VALIDATE_FAILED: return "ESP_ERR_OTA_VALIDATE_FAILED";
	case ESP_ERR_OTA_ROLLBACK_INVALID_STATE: return "ESP_ERR_OTA_ROLLBACK_INVALID_STATE";
	default: return "ESP_ERR_UNKNOWN";
	}
}

/* flash */
const esp_partition_t* esp_partition_find_first(esp_partition_type_t type, esp_partition_subtype_t subtype, const char* label)
{
	int i;
	start();
	for (i = 0; i < 2; i++) {
		if ((gxSlots[i].type == type) && (gxSlots[i].subtype == subtype) && (!label || !strcmp(label, gxSlots[i].label)))
			return &gxSlots[i];
	}
	return NULL;
}

esp_err_t esp_partition_read(const esp_partition_t* partition, size_t src_offset, void* dst, size_t size)
{
	int index = indexOf(partition);
	if ((index < 0) || (src_offset > SLOT_SIZE) || (size > SLOT_SIZE - src_offset))
		return ESP_ERR_INVALID_ARG;
	memcpy(dst, gxFlash[index] + src_offset, size);
	gxReads[index] += size;
	return ESP_OK;
}

/* NOR: the bits a write does not clear stay set; a write cannot set a bit (what it reads back then differs) */
esp_err_t esp_partition_write(const esp_partition_t* partition, size_t dst_offset, const void* src, size_t size)
{
	int index = indexOf(partition);
	size_t i;
	if ((index < 0) || (dst_offset > SLOT_SIZE) || (size > SLOT_SIZE - dst_offset))
		return ESP_ERR_INVALID_ARG;
	for (i = 0; i < size; i++)
		gxFlash[index][dst_offset + i] &= ((const uint8_t*)src)[i];
	return ESP_OK;
}

esp_err_t esp_partition_erase_range(const esp_partition_t* partition, size_t offset, size_t size)
{
	int index = indexOf(partition);
	if ((index < 0) || (offset % SECTOR) || (size % SECTOR) || (offset > SLOT_SIZE) || (size > SLOT_SIZE - offset))
		return ESP_ERR_INVALID_ARG;
	memset(gxFlash[index] + offset, 0xFF, size);
	gxErases[index] += size / SECTOR;
	return ESP_OK;
}

/* otadata */
const esp_partition_t* esp_ota_get_running_partition(void)
{
	start();
	return &gxSlots[gxRunning];
}

const esp_partition_t* esp_ota_get_next_update_partition(const esp_partition_t* start_from)
{
	start();
	return &gxSlots[1 - gxRunning];
}

esp_err_t esp_ota_get_state_partition(const esp_partition_t* partition, esp_ota_img_states_t* ota_state)
{
	int index = indexOf(partition);
	if (index < 0)
		return ESP_ERR_INVALID_ARG;
	if (gxStates[index] == ESP_OTA_IMG_UNDEFINED)
		return ESP_ERR_NOT_FOUND;
	*ota_state = gxStates[index];
	return ESP_OK;
}

/* The inactive slot loses its otadata entry (as UNDEFINED: no entry); ESP_FAIL when it has none, as in ESP-IDF. */
esp_err_t esp_ota_invalidate_inactive_ota_data_slot(void)
{
	start();
	if (gxStates[1 - gxRunning] == ESP_OTA_IMG_UNDEFINED)
		return ESP_FAIL;
	gxStates[1 - gxRunning] = ESP_OTA_IMG_UNDEFINED;
	gxBoot = gxRunning; /* no entry selects the other slot any more */
	return ESP_OK;
}

esp_err_t esp_ota_set_boot_partition(const esp_partition_t* partition)
{
	int index = indexOf(partition);
	size_t end = SLOT_SIZE;
	if (index < 0)
		return ESP_ERR_INVALID_ARG;
	gxValidations[index]++;
	if (gxFlash[index][0] != 0xE9) { /* esp_image_verify: not an app image (it read the header) */
		gxReads[index] += 24;
		return ESP_ERR_OTA_VALIDATE_FAILED;
	}
	while (end && (gxFlash[index][end - 1] == 0xFF))
		end--;
	gxReads[index] += end; /* esp_image_verify reads every segment and the appended digest */
	gxBoot = index;
	if (index != gxRunning)
		gxStates[index] = ESP_OTA_IMG_NEW;
	return ESP_OK;
}

esp_err_t esp_ota_mark_app_valid_cancel_rollback(void)
{
	start();
	gxStates[gxRunning] = ESP_OTA_IMG_VALID;
	return ESP_OK;
}

esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void)
{
	start();
	if ((gxStates[1 - gxRunning] != ESP_OTA_IMG_VALID) || (gxFlash[1 - gxRunning][0] != 0xE9))
		return ESP_ERR_OTA_ROLLBACK_INVALID_STATE; /* no other image to go back to */
	gxStates[gxRunning] = ESP_OTA_IMG_INVALID;
	gxBoot = 1 - gxRunning;
	reset("rollback");
	return ESP_FAIL;
}

esp_reset_reason_t esp_reset_reason(void)
{
	const char* reason = getenv("XSFOTA_FAKE_RESET");
	return (reason && *reason) ? (esp_reset_reason_t)strtoul(reason, NULL, 0) : ESP_RST_POWERON;
}

void esp_restart(void)
{
	start();
	reset("restart");
}

/* NVS: the device config's three blobs in namespace "xsfota" of fotacfg: "config" (the factory copy, from
 * XSFOTA_FAKE_CONFIG), "config1" and "config2" (the working copies, in memory: a reset ends the process). */
static const char* const gxNvsKeys[3] = { "config", "config1", "config2" };
static uint8_t* gxNvsBlobs[3] = { NULL, NULL, NULL };
static size_t gxNvsLengths[3] = { 0, 0, 0 };
static int gxNvsLoaded = 0, gxNvsCommits = 0;

static int nvsIndex(const char* key)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(key, gxNvsKeys[i]))
			return i;
	return -1;
}

static void nvsLoad(void)
{
	const char* config = getenv("XSFOTA_FAKE_CONFIG");
	if (gxNvsLoaded)
		return;
	gxNvsLoaded = 1;
	if (config) {
		gxNvsLengths[0] = strlen(config);
		gxNvsBlobs[0] = malloc(gxNvsLengths[0] + 1);
		memcpy(gxNvsBlobs[0], config, gxNvsLengths[0] + 1);
	}
}

esp_err_t nvs_flash_init_partition(const char* partition_label)
{
	return strcmp(partition_label, "fotacfg") ? ESP_ERR_NOT_FOUND : ESP_OK;
}

esp_err_t nvs_open_from_partition(const char* part_name, const char* namespace_name, nvs_open_mode_t open_mode, nvs_handle_t* out_handle)
{
	nvsLoad();
	if (strcmp(part_name, "fotacfg") || strcmp(namespace_name, "xsfota"))
		return ESP_ERR_NVS_NOT_FOUND;
	/* a read-only open of a namespace that holds nothing fails, as NVS's does */
	if ((open_mode == NVS_READONLY) && !gxNvsBlobs[0] && !gxNvsBlobs[1] && !gxNvsBlobs[2])
		return ESP_ERR_NVS_NOT_FOUND;
	*out_handle = (open_mode == NVS_READONLY) ? 1 : 2;
	gxNvsReads = 0;
	return ESP_OK;
}

esp_err_t nvs_get_blob(nvs_handle_t handle, const char* key, void* out_value, size_t* length)
{
	const char* fault = getenv("XSFOTA_FAKE_NVS_FAIL");
	int index = nvsIndex(key);
	if (!handle || (index < 0) || !gxNvsBlobs[index])
		return ESP_ERR_NVS_NOT_FOUND;
	if (++gxNvsReads == 2 && fault && !strcmp(fault, "second"))
		return ESP_ERR_NVS_INVALID_LENGTH;
	if (out_value) {
		if (*length < gxNvsLengths[index])
			return ESP_ERR_NVS_INVALID_LENGTH;
		memcpy(out_value, gxNvsBlobs[index], gxNvsLengths[index]);
	}
	*length = gxNvsLengths[index];
	return ESP_OK;
}

esp_err_t nvs_set_blob(nvs_handle_t handle, const char* key, const void* value, size_t length)
{
	int index = nvsIndex(key);
	if (handle != 2)
		return ESP_ERR_NVS_READ_ONLY;
	if (index < 0)
		return ESP_ERR_NVS_NOT_FOUND;
	free(gxNvsBlobs[index]);
	gxNvsBlobs[index] = malloc(length ? length : 1);
	memcpy(gxNvsBlobs[index], value, length);
	gxNvsLengths[index] = length;
	return ESP_OK;
}

esp_err_t nvs_erase_key(nvs_handle_t handle, const char* key)
{
	int index = nvsIndex(key);
	if (handle != 2)
		return ESP_ERR_NVS_READ_ONLY;
	if ((index < 0) || !gxNvsBlobs[index])
		return ESP_ERR_NVS_NOT_FOUND;
	free(gxNvsBlobs[index]);
	gxNvsBlobs[index] = NULL;
	gxNvsLengths[index] = 0;
	return ESP_OK;
}

esp_err_t nvs_commit(nvs_handle_t handle)
{
	if (handle != 2)
		return ESP_ERR_NVS_READ_ONLY;
	gxNvsCommits++;
	return ESP_OK;
}

void nvs_close(nvs_handle_t handle)
{
}

/* task watchdog */
struct esp_task_wdt_user_handle_s { int id; };
static struct esp_task_wdt_user_handle_s gxUser = { 1 };

esp_err_t esp_task_wdt_reconfigure(const esp_task_wdt_config_t* config)
{
	gxWdt = *config;
	gxWdtReconfigures++;
	return ESP_OK;
}

esp_err_t esp_task_wdt_add_user(const char* user_name, esp_task_wdt_user_handle_t* user_handle_ret)
{
	gxWdtUsers++;
	*user_handle_ret = &gxUser;
	return ESP_OK;
}

esp_err_t esp_task_wdt_reset_user(esp_task_wdt_user_handle_t user_handle)
{
	gxWdtResets++;
	return (user_handle == &gxUser) && gxWdtUsers ? ESP_OK : ESP_ERR_INVALID_STATE;
}

esp_err_t esp_task_wdt_delete_user(esp_task_wdt_user_handle_t user_handle)
{
	if ((user_handle != &gxUser) || !gxWdtUsers)
		return ESP_ERR_INVALID_STATE;
	gxWdtUsers--;
	return ESP_OK;
}

void vTaskDelay(const TickType_t ticks)
{
}

/* for the tests: the fake's state as JSON */
void xs_fake_idf_state(xsMachine* the)
{
	char text[512];
	FILE* out = fmemopen(text, sizeof(text), "w");
	start();
	printState(out);
	fclose(out);
	xsmcSetString(xsResult, text);
}
