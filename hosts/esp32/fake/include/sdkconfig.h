/* Fake ESP-IDF for CI: the sdkconfig values the natives read, as hosts/esp32/sdkconfig and a dual-core ESP32's
 * defaults give them (both idle tasks watched). */
#pragma once
#define CONFIG_ESP_TASK_WDT_TIMEOUT_S 10
#define CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0 1
#define CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1 1
