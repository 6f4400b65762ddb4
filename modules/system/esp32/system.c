/* `system` on the ESP32: System.restart() is esp_restart(), a software reset through the bootloader. */
#include "xsmc.h"
#include "esp_system.h"

void xs_system_restart(xsMachine* the)
{
	esp_restart();
}
