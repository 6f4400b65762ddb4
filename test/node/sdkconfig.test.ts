// The ESP32 sdkconfig that mcconfig generates: one setting per option (tools/builder/sdkconfig.ts), on a file shaped as
// Moddable's merge leaves it (a base "# NAME is not set" followed by the app's NAME=y; an app's n written NAME=).
import test from "ava";
import { normalizeSdkconfig, sdkconfigProblems } from "../../tools/builder/sdkconfig.js";

const MERGED = [
	"CONFIG_BOOTLOADER_LOG_LEVEL_NONE=y",
	"CONFIG_BOOTLOADER_SKIP_VALIDATE_ALWAYS=",
	"CONFIG_PARTITION_TABLE_CUSTOM=y",
	"# CONFIG_ESP_TASK_WDT_EN is not set",
	"CONFIG_FREERTOS_HZ=1000",
	"",
	"CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y",
	"CONFIG_ESP_TASK_WDT_EN=y",
	"CONFIG_ESP_TASK_WDT_PANIC=y",
	"CONFIG_BOOTLOADER_SKIP_VALIDATE_ON_POWER_ON=n",
	"",
].join("\n");

test("Moddable's merge leaves an option set twice and one set to nothing; the normalized file sets each once, to the value kconfig takes", (t) => {
	t.deepEqual(sdkconfigProblems(MERGED), [
		"CONFIG_BOOTLOADER_SKIP_VALIDATE_ALWAYS is set to nothing on line 2",
		"CONFIG_ESP_TASK_WDT_EN is set on lines 4 and 8",
	]);
	const { text, changes } = normalizeSdkconfig(MERGED);
	t.deepEqual(sdkconfigProblems(text), []);
	t.is(changes.length, 2);
	t.deepEqual(text.split("\n"), [
		"CONFIG_BOOTLOADER_LOG_LEVEL_NONE=y",
		"# CONFIG_BOOTLOADER_SKIP_VALIDATE_ALWAYS is not set",
		"CONFIG_PARTITION_TABLE_CUSTOM=y",
		"CONFIG_FREERTOS_HZ=1000",
		"",
		"CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y",
		"CONFIG_ESP_TASK_WDT_EN=y",
		"CONFIG_ESP_TASK_WDT_PANIC=y",
		"CONFIG_BOOTLOADER_SKIP_VALIDATE_ON_POWER_ON=n",
		"",
	]);
});

test("a file that already sets each option once is left as it is", (t) => {
	const clean = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x=y\"\n";
	t.deepEqual(normalizeSdkconfig(clean), { text: clean, changes: [] });
	t.deepEqual(sdkconfigProblems(clean), []);
});
