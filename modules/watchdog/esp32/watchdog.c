/*
 * `watchdog` on the ESP32: a task watchdog user of our own (esp_task_wdt_add_user), so that a supervised task
 * such as the self-test must feed it explicitly; the main loop's own feeding (modMessageService) does not count.
 * The task watchdog has one timeout for all its users: arm() sets it (esp_task_wdt_reconfigure), disarm()
 * restores the sdkconfig default. CONFIG_ESP_TASK_WDT_PANIC makes an expiry a reset, which rolls back a pending image.
 * esp_task_wdt_reconfigure subscribes exactly the idle tasks its idle_core_mask names, so every call passes the
 * sdkconfig's own set (CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPUn): a mask of 0 would unsubscribe them for good.
 */
#include "xsmc.h"
#include "esp_task_wdt.h"
#include "sdkconfig.h"

static esp_task_wdt_user_handle_t gUser = NULL;

/* The idle tasks that the startup code subscribes, from the sdkconfig. */
static uint32_t idleCoreMask(void)
{
	uint32_t mask = 0;
#if CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0
	mask |= 1u << 0;
#endif
#if CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1
	mask |= 1u << 1;
#endif
	return mask;
}

static void reconfigure(xsMachine* the, uint32_t timeoutMs)
{
	esp_task_wdt_config_t config = {
		.timeout_ms = timeoutMs,
		.idle_core_mask = idleCoreMask(),
		.trigger_panic = true,
	};
	esp_err_t err = esp_task_wdt_reconfigure(&config);
	if (err != ESP_OK)
		xsUnknownError("Watchdog: cannot configure the task watchdog: %s", esp_err_to_name(err));
}

void xs_watchdog_arm(xsMachine* the)
{
	double timeout = xsmcToNumber(xsArg(0));
	esp_err_t err;
	if (!(timeout >= 1) || (timeout > 3600000))
		xsRangeError("Watchdog.arm: timeout must be 1 ms to 1 hour");
	reconfigure(the, (uint32_t)timeout);
	if (!gUser) {
		err = esp_task_wdt_add_user("xsfota", &gUser);
		if (err != ESP_OK)
			xsUnknownError("Watchdog.arm: %s", esp_err_to_name(err));
	}
	esp_task_wdt_reset_user(gUser);
}

void xs_watchdog_feed(xsMachine* the)
{
	if (gUser)
		esp_task_wdt_reset_user(gUser);
}

void xs_watchdog_disarm(xsMachine* the)
{
	if (gUser) {
		esp_task_wdt_delete_user(gUser);
		gUser = NULL;
		reconfigure(the, CONFIG_ESP_TASK_WDT_TIMEOUT_S * 1000);
	}
}
