// The desktop simulator's C (hosts/lin/c/board-lin.c, modules/watchdog/lin/watchdog.c, and the board-backed
// natives lin shares with the sim) run here without the Moddable SDK: xsfota-lin is our host built with the lin
// platform's natives (scripts/lib/prepare.mjs). With it, the launcher's bootloader pass (`xsfota-sim boot`).
import test from "ava";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, buildLinImage } from "../../tools/sim/image.js";
import { provision, readOtadata, readSlotImage, writeDeviceConfig, writeImage, writeOtadata, OTA_STATES } from "../../tools/sim/flash.js";
import { RESET_EXIT } from "../../tools/sim/mcsim.js";
import { BUILD_JS, HOST, LIN_HOST, MODULE_MAP, ROOT } from "./lib/paths.js";

const script = (name: string) => join(BUILD_JS, "test/xs/lin", `${name}.js`);
/** A stand-in mc.so: the image format only asks for an ELF object; nothing here loads it. */
const fakeSo = (tag: string) => Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.from(`not really a shared object ${tag}`)]);

function simImage(version: string): Buffer {
	const map = JSON.parse(readFileSync(MODULE_MAP, "utf8"));
	return buildImage({ map, entry: "main", version, root: BUILD_JS });
}

function linDevice(): { dir: string; flash: string; log: string } {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-lin-"));
	const flash = join(dir, "lin.flash");
	provision(flash, { partitionsCsv: join(ROOT, "hosts/esp32/partitions.csv"), image: buildLinImage(fakeSo("v1"), "1.0.0") });
	writeDeviceConfig(flash, { deviceId: "lin-1", product: "demo-board" });
	return { dir, flash, log: join(dir, "events.jsonl") };
}

function runLin(name: string, env: Record<string, string>) {
	return spawnSync(LIN_HOST, ["--modules", MODULE_MAP, script(name)], { encoding: "utf8", timeout: 20000, env: { ...process.env, ...env } });
}

function boot(flash: string, log: string, extra: string[] = []) {
	return spawnSync(HOST, ["boot", "--flash", flash, "--kind", "lin", "--log", log, ...extra], { encoding: "utf8" });
}

const events = (log: string) => readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line));

test("the lin board: the running slot, a sim image refused by verify (not-bootable) and by activate, the running slot protected, the config", (t) => {
	const { flash, log } = linDevice();
	writeImage(flash, "ota_1", simImage("2.0.0"));
	const run = runLin("partition", { XSFOTA_FLASH: flash, XSFOTA_SLOT: "0", XSFOTA_LOG: log });
	t.is(run.status, 0, run.stderr);
	const seen = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
	t.like(seen.running, { label: "ota_0", index: 0 });
	t.like(seen.next, { label: "ota_1", index: 1 });
	t.like(seen.verifySim, { reason: "not-bootable" });
	t.regex(seen.verifySim.detail, /ota_1 holds no valid image: the image is for sim, this board runs lin/);
	t.like(seen.verifyWrong, { reason: "digest-mismatch" });
	t.regex(seen.activateSim, /ota_1 holds no valid image: the image is for sim, this board runs lin/);
	t.regex(seen.eraseRunning, /ota_0 is the running slot/);
	t.like(seen.config, { deviceId: "lin-1" });
	t.is(seen.digest, createHash("sha256").update(readSlotImage(flash, "ota_0").subarray(0, 128)).digest("hex"));
	t.deepEqual(readOtadata(flash).map((entry) => entry.seq), [0xffffffff, 0xffffffff], "a refused activation writes no otadata");
});

test("the lin board's reset cause comes from the launcher, and the inactive slot's old otadata entry is erased before a rewrite", (t) => {
	const { flash, log } = linDevice();
	writeImage(flash, "ota_1", buildLinImage(fakeSo("v0"), "0.9.0"));
	writeOtadata(flash, 0, { seq: 2, state: OTA_STATES.valid }); // ota_1 ran once (seq 2) ...
	writeOtadata(flash, 1, { seq: 3, state: OTA_STATES.valid }); // ... and ota_0 runs now (seq 3)
	const first = runLin("reset", { XSFOTA_FLASH: flash, XSFOTA_SLOT: "0", XSFOTA_LOG: log });
	t.is(first.status, 0, first.stderr);
	const seen = JSON.parse(first.stdout.trim().split("\n").at(-1)!);
	t.like(seen, { reset: "power-on", invalidated: "ota_1" });
	t.regex(seen.invalidateRunning, /ota_0 is the running slot/);
	t.deepEqual(readOtadata(flash).map((entry) => entry.seq), [0xffffffff, 3], "ota_1's entry outlived the invalidation");
	const again = runLin("reset", { XSFOTA_FLASH: flash, XSFOTA_SLOT: "0", XSFOTA_LOG: log, XSFOTA_RESET: "restart" });
	t.like(JSON.parse(again.stdout.trim().split("\n").at(-1)!), { reset: "software" });
});

test("activate then restart: the process ends with the reset status, and the bootloader tries the new image, then rolls it back", (t) => {
	const { flash, log } = linDevice();
	t.is(boot(flash, log).status, 0);
	writeImage(flash, "ota_1", buildLinImage(fakeSo("v2"), "2.0.0"));
	const run = runLin("activate", { XSFOTA_FLASH: flash, XSFOTA_SLOT: "0", XSFOTA_LOG: log, XSFOTA_BOOT: "1" });
	t.is(run.status, RESET_EXIT, run.stderr);
	t.true(run.stdout.includes("activated"));
	t.like(events(log).at(-1), { type: "reboot", reason: "restart", slot: 0 });
	t.true(readOtadata(flash).some((entry) => entry.state === OTA_STATES.new && entry.seq === 2));
	const trial = boot(flash, log, ["--boot", "2", "--last-slot", "0"]);
	t.is(trial.status, 0, trial.stderr);
	t.like(JSON.parse(trial.stdout), { slot: 1, version: "2.0.0", state: "pending-verify" });
	const back = boot(flash, log, ["--boot", "3", "--last-slot", "1"]);
	t.like(JSON.parse(back.stdout), { slot: 0, version: "1.0.0" }, "a reset while pending rolls back");
	t.truthy(events(log).find((event) => event.type === "rollback" && event.from === 1 && event.to === 0 && event.reason === "aborted"));
});

test("the lin watchdog thread: fed or disarmed it waits; starved by a busy loop it resets the board", (t) => {
	const { flash, log } = linDevice();
	const run = runLin("watchdog", { XSFOTA_FLASH: flash, XSFOTA_SLOT: "0", XSFOTA_LOG: log });
	t.is(run.status, RESET_EXIT, run.stderr);
	t.true(run.stdout.includes("still alive after disarm"));
	t.false(run.stdout.includes("did not fire"));
	const last = events(log).slice(-2);
	t.like(last[0], { type: "watchdog", slot: 0 });
	t.like(last[1], { type: "reboot", reason: "watchdog" });
});

test("without XSFOTA_FLASH there is no board: no config, and the flash says so", (t) => {
	const run = runLin("no-board", {});
	t.is(run.status, 0, run.stderr);
	const seen = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
	t.is(seen.config, "none");
	t.regex(seen.running, /no flash here/);
});

test("the launcher's bootloader pass boots only lin images: a flash of sim images is bricked for it", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-lin-"));
	const flash = join(dir, "sim.flash");
	provision(flash, { partitionsCsv: join(ROOT, "hosts/esp32/partitions.csv"), image: simImage("1.0.0") });
	const run = boot(flash, join(dir, "events.jsonl"));
	t.is(run.status, 3);
	t.regex(run.stderr, /no bootable lin image/);
	t.truthy(events(join(dir, "events.jsonl")).find((event) => event.type === "image-invalid" && /is for sim, this board runs lin/.test(event.reason)));
});
