/* Fake ESP-IDF for CI: the version the natives are checked against. */
#pragma once
#define ESP_IDF_VERSION_MAJOR 6
#define ESP_IDF_VERSION_MINOR 0
#define ESP_IDF_VERSION_PATCH 0
