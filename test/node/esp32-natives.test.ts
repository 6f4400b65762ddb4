// The ESP32's C (the esp32 folder of each native module) compiled in our host over a fake of the ESP-IDF functions
// it calls (hosts/esp32/fake: prototypes from ESP-IDF v6.0), so that CI runs the real natives without ESP-IDF.
import test from "ava";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BUILD_JS, ESP32_HOST, MODULE_MAP } from "./lib/paths.js";

/** esp_ota_img_states_t, as the fake prints them */
const NEW = 0, PENDING_VERIFY = "1", VALID = 2, UNDEFINED = 0xffffffff;

function run(name: string, env: Record<string, string> = {}) {
	const result = spawnSync(ESP32_HOST, ["--modules", MODULE_MAP, join(BUILD_JS, "test/xs/esp32", `${name}.js`)],
		{ encoding: "utf8", timeout: 20000, env: { ...process.env, ...env } });
	const lines = result.stdout.trim().split("\n").filter((line) => line.startsWith("{") || line.startsWith("fake-idf"));
	return { ...result, lines };
}

test("partition on the ESP32: slots, NOR writes, the slot hash, and activation of app images only", (t) => {
	const result = run("partition");
	t.is(result.status, 0, result.stderr);
	const seen = JSON.parse(result.lines.at(-1)!);
	t.like(seen.running, { label: "ota_0", index: 0, state: "valid" });
	t.like(seen.next, { label: "ota_1", index: 1 });
	t.regex(seen.activateBlank, /Partition\.activate: ota_1: ESP_ERR_OTA_VALIDATE_FAILED/);
	t.deepEqual(seen.readBack, [0xe9, 10, 17, 24]);
	t.regex(seen.rewrite, /Partition\.write: ota_1 at 0 is not erased/);
	t.regex(seen.eraseRunning, /ota_0 is the running slot/);
	t.regex(seen.eraseOdd, /Partition\.erase: ota_1: offset 100 and length 4096 must be multiples of 4096/);
	const image = Buffer.alloc(10000);
	for (let i = 0; i < image.length; i++)
		image[i] = (i * 7 + 3) & 0xff;
	image[0] = 0xe9;
	t.is(seen.sha256, createHash("sha256").update(image).digest("hex"));
	t.like(seen.after, { boot: 1, states: [VALID, NEW] });
});

test("Partition.verify on the ESP32: one pass for the SHA-256 and the app magic, reasons kept apart; esp_ota_set_boot_partition reads the image again", (t) => {
	const result = run("verify");
	t.is(result.status, 0, result.stderr);
	const seen = JSON.parse(result.lines.at(-1)!);
	t.like(seen.notBootable, { reason: "not-bootable" });
	t.regex(seen.notBootable.detail, /ota_1 holds no ESP app image \(magic 0x00, not 0xe9\)/);
	t.like(seen.wrongDigest, { reason: "digest-mismatch" });
	t.regex(seen.wrongDigest.detail, /ota_1: the SHA-256 of its first 10000 bytes is not the signed one/);
	t.regex(seen.shortDigest, /Partition\.verify: ota_1: the SHA-256 must be 32 bytes, not 16/);
	t.regex(seen.tooLong, /Partition\.verify: 262145 bytes do not fit ota_1/);
	t.is(seen.good, "ok");
	t.is(seen.verifyReads, 10000, "verify read the image once");
	t.is(seen.activate, "ok");
	t.is(seen.validations, 1);
	t.is(seen.activateReads, 10000, "esp_ota_set_boot_partition validates the image again (docs/format.md)");
	t.like(seen.after, { boot: 1, states: [VALID, NEW] });
});

test("the watchdog keeps the idle tasks the sdkconfig subscribes, armed and after disarm (a mask of 0 unsubscribed them)", (t) => {
	const result = run("trial", { XSFOTA_FAKE_STATE: PENDING_VERIFY, XSFOTA_FAKE_CONFIG: JSON.stringify({ deviceId: "esp-1" }) });
	t.is(result.status, 0, result.stderr);
	const seen = JSON.parse(result.lines[0]!);
	t.like(seen.running, { label: "ota_0", state: "pending-verify" });
	t.like(seen.armed.wdt, { timeout_ms: 5000, idle_core_mask: 3, trigger_panic: true, users: 1 });
	t.like(seen.disarmed.wdt, { timeout_ms: 10000, idle_core_mask: 3, users: 0 });
	t.like(seen.config, { deviceId: "esp-1" });
	t.like(JSON.parse(result.lines[1]!).valid, { states: [VALID, UNDEFINED] });
});

test("devconfig reports the error of the read that failed, not the sizing's ESP_OK", (t) => {
	const result = run("trial", { XSFOTA_FAKE_STATE: PENDING_VERIFY, XSFOTA_FAKE_CONFIG: JSON.stringify({ deviceId: "esp-1" }), XSFOTA_FAKE_NVS_FAIL: "second" });
	t.is(result.status, 0, result.stderr);
	t.regex(JSON.parse(result.lines[0]!).config, /devconfig.read config: cannot read the blob: ESP_ERR_NVS_INVALID_LENGTH$/);
});

test("markInvalidAndReboot throws, naming ESP-IDF's error, when no other image can boot", (t) => {
	const refused = run("trial", { XSFOTA_FAKE_STATE: PENDING_VERIFY, XSFOTA_FAKE_CONFIG: JSON.stringify({ fail: true }) });
	t.not(refused.status, 75);
	t.regex(refused.stderr + refused.stdout, /Partition\.markInvalidAndReboot: ESP_ERR_OTA_ROLLBACK_INVALID_STATE/);
});

test("System.resetReason groups esp_reset_reason; Partition.invalidate erases the inactive slot's otadata entry and refuses the running slot", (t) => {
	// esp_reset_reason_t: 1 POWERON, 3 SW, 4 PANIC, 6 TASK_WDT, 9 BROWNOUT
	for (const [code, cause] of [["1", "power-on"], ["3", "software"], ["4", "crash"], ["6", "watchdog"], ["9", "brownout"]] as const) {
		const result = run("reset", { XSFOTA_FAKE_RESET: code, XSFOTA_FAKE_OTHER: String(VALID) });
		t.is(result.status, 0, result.stderr);
		const seen = JSON.parse(result.lines.at(-1)!);
		t.is(seen.reset, cause, `esp_reset_reason ${code}`);
		t.deepEqual(seen.before.states, [VALID, VALID]);
		t.deepEqual(seen.invalidated.states, [VALID, UNDEFINED], "the inactive slot kept its otadata entry");
		t.regex(seen.invalidateRunning, /ota_0 is the running slot/);
	}
});
