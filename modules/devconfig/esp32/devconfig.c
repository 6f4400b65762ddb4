/*
 * `devconfig` on the ESP32: the config JSON is the blob "config" in namespace "xsfota" of the NVS partition
 * labelled fotacfg, written at provisioning with ESP-IDF's nvs_partition_gen.py (README, "ESP32"). Read-only.
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

void xs_devconfig_read(xsMachine* the)
{
	static int initialized = 0;
	nvs_handle_t handle;
	size_t length = 0;
	char* text;
	esp_err_t err;
	if (!initialized) {
		err = nvs_flash_init_partition("fotacfg");
		if (err != ESP_OK)
			xsUnknownError("devconfig: cannot open the fotacfg partition: %s", esp_err_to_name(err));
		initialized = 1;
	}
	err = nvs_open_from_partition("fotacfg", "xsfota", NVS_READONLY, &handle);
	if (err == ESP_ERR_NVS_NOT_FOUND)
		return; /* not provisioned */
	if (err != ESP_OK)
		xsUnknownError("devconfig: %s", esp_err_to_name(err));
	err = nvs_get_blob(handle, "config", NULL, &length);
	if (err == ESP_ERR_NVS_NOT_FOUND) {
		nvs_close(handle);
		return;
	}
	if (err != ESP_OK) {
		nvs_close(handle);
		xsUnknownError("devconfig: cannot size the config: %s", esp_err_to_name(err));
	}
	text = malloc(length + 1);
	if (!text) {
		nvs_close(handle);
		xsUnknownError("devconfig: no memory for the %u-byte config", (unsigned)length);
	}
	err = nvs_get_blob(handle, "config", text, &length); /* the error reported is this read's, not the sizing's */
	if (err != ESP_OK) {
		nvs_close(handle);
		free(text);
		xsUnknownError("devconfig: cannot read the config: %s", esp_err_to_name(err));
	}
	nvs_close(handle);
	text[length] = 0;
	xsmcSetString(xsResult, text);
	free(text);
}
