/*
 * `devconfig` on the ESP32: the device config's three areas are blobs in namespace "xsfota" of the NVS partition
 * labelled fotacfg: "config" the factory copy (written at provisioning with ESP-IDF's nvs_partition_gen.py, README
 * "ESP32"; bare JSON), "config1" and "config2" the working copies (records, modules/fota/config-store.ts). NVS
 * replaces a blob atomically: after a power cut it holds the old value or the new one. This only moves bytes.
 */
#include "xsmc.h"
#if __has_include("nvs_flash.h")
	#include "nvs.h"                              /* an ESP-IDF component's include list */
	#include "nvs_flash.h"
#else
	#include "nvs_flash/include/nvs.h"            /* Moddable's (components/ only), as its own modules include it */
	#include "nvs_flash/include/nvs_flash.h"
#endif
#include <stdlib.h>

static const char* const gxKeys[3] = { "config", "config1", "config2" };

/* The key an area argument names; throws naming the operation. */
static const char* keyOf(xsMachine* the, const char* operation, int firstWritable)
{
	static int initialized = 0;
	int area = xsmcToInteger(xsArg(0));
	esp_err_t err;
	if ((area < firstWritable) || (area > 2))
		xsRangeError("%s: area %d is not one of %s", operation, area, firstWritable ? "1, 2" : "0, 1, 2");
	if (!initialized) {
		err = nvs_flash_init_partition("fotacfg");
		if (err != ESP_OK)
			xsUnknownError("%s: cannot open the fotacfg partition: %s", operation, esp_err_to_name(err));
		initialized = 1;
	}
	return gxKeys[area];
}

void xs_devconfig_read(xsMachine* the)
{
	const char* key = keyOf(the, "devconfig.read", 0);
	nvs_handle_t handle;
	size_t length = 0;
	void* data;
	esp_err_t err = nvs_open_from_partition("fotacfg", "xsfota", NVS_READONLY, &handle);
	if (err == ESP_ERR_NVS_NOT_FOUND)
		return; /* nothing was ever written: blank */
	if (err != ESP_OK)
		xsUnknownError("devconfig.read %s: %s", key, esp_err_to_name(err));
	err = nvs_get_blob(handle, key, NULL, &length);
	if (err == ESP_ERR_NVS_NOT_FOUND) {
		nvs_close(handle);
		return;
	}
	if (err != ESP_OK) {
		nvs_close(handle);
		xsUnknownError("devconfig.read %s: cannot size the blob: %s", key, esp_err_to_name(err));
	}
	data = malloc(length ? length : 1);
	if (!data) {
		nvs_close(handle);
		xsUnknownError("devconfig.read %s: no memory for %u bytes", key, (unsigned)length);
	}
	err = nvs_get_blob(handle, key, data, &length); /* the error reported is this read's, not the sizing's */
	nvs_close(handle);
	if (err != ESP_OK) {
		free(data);
		xsUnknownError("devconfig.read %s: cannot read the blob: %s", key, esp_err_to_name(err));
	}
	xsmcSetArrayBuffer(xsResult, data, (xsIntegerValue)length);
	free(data);
}

/* Opens the namespace for writing, runs the change, commits; throws naming the operation and the key. */
static void change(xsMachine* the, const char* operation, const char* key, const void* data, size_t length)
{
	nvs_handle_t handle;
	esp_err_t err = nvs_open_from_partition("fotacfg", "xsfota", NVS_READWRITE, &handle);
	if (err != ESP_OK)
		xsUnknownError("%s %s: cannot open: %s", operation, key, esp_err_to_name(err));
	err = data ? nvs_set_blob(handle, key, data, length) : nvs_erase_key(handle, key);
	if (!data && (err == ESP_ERR_NVS_NOT_FOUND))
		err = ESP_OK; /* already blank */
	if (err == ESP_OK)
		err = nvs_commit(handle);
	nvs_close(handle);
	if (err != ESP_OK)
		xsUnknownError("%s %s: %s", operation, key, esp_err_to_name(err));
}

void xs_devconfig_write(xsMachine* the)
{
	const char* key = keyOf(the, "devconfig.write", 1);
	void* data;
	xsUnsignedValue length;
	if (xsmcArgc < 2)
		xsTypeError("devconfig.write: expects the record's bytes");
	xsmcGetBufferReadable(xsArg(1), &data, &length);
	if (length == 0)
		xsRangeError("devconfig.write %s: an empty record", key);
	change(the, "devconfig.write", key, data, length);
}

void xs_devconfig_erase(xsMachine* the)
{
	change(the, "devconfig.erase", keyOf(the, "devconfig.erase", 1), NULL, 0);
}
