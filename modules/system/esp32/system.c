/* `system` on the ESP32: System.restart() is esp_restart(), a software reset through the bootloader;
 * System.resetReason() is esp_reset_reason(), grouped as modules/system/system.ts names the causes. */
#include "xsmc.h"
#include "esp_system.h"

void xs_system_restart(xsMachine* the)
{
	esp_restart();
}

void xs_system_reset_reason(xsMachine* the)
{
	const char* cause;
	switch (esp_reset_reason()) {
	case ESP_RST_POWERON: cause = "power-on"; break;
	case ESP_RST_BROWNOUT: case ESP_RST_PWR_GLITCH: cause = "brownout"; break;
	case ESP_RST_SW: case ESP_RST_DEEPSLEEP: cause = "software"; break;
	case ESP_RST_INT_WDT: case ESP_RST_TASK_WDT: case ESP_RST_WDT: cause = "watchdog"; break;
	case ESP_RST_PANIC: case ESP_RST_CPU_LOCKUP: cause = "crash"; break;
	case ESP_RST_EXT: case ESP_RST_SDIO: case ESP_RST_USB: case ESP_RST_JTAG: cause = "external"; break;
	default: cause = "unknown"; break;
	}
	xsmcSetString(xsResult, (char*)cause);
}
