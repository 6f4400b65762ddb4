/* Fake ESP-IDF for CI: nvs_flash.h. */
#pragma once
#include "nvs.h"
esp_err_t nvs_flash_init_partition(const char *partition_label);
