// The simulated board end to end: updates, rollbacks on crash, hang and self-test failure, watchdog, images.
import test from "ava";
import { writeFileSync, readFileSync } from "node:fs";
import { boots, device, image, runBoard } from "./lib/board.js";
import { findPartition, readOtadata, writeDeviceConfig, writeOtadata } from "../../tools/sim/flash.js";
import { OTA_STATES } from "../../tools/sim/flash.js";

test("a good update boots pending, confirms itself and stays", (t) => {
	const flash = device(image("updater", "1.0.0"), image("good", "2.0.0"));
	const run = runBoard(flash);
	t.is(run.status, 0, run.stderr);
	t.deepEqual(boots(run).map((b) => [b.slot, b.version, b.state]), [[0, "1.0.0", "valid"], [1, "2.0.0", "pending-verify"]]);
	t.truthy(run.events.find((e) => e.type === "valid"));
	t.is(run.events.at(-1)?.type, "halt");
	const again = runBoard(flash);
	t.deepEqual(boots(again).map((b) => [b.slot, b.version, b.state]), [[1, "2.0.0", "valid"]]);
	t.true(run.events.every((e) => typeof e.t === "number" && e.boot >= 1));
});

for (const [name, reason] of [["crash", "crash"], ["rejects", "crash"], ["hang", "watchdog"], ["hang-idle", "watchdog"], ["invalid", "mark-invalid"]]) {
	test(`a pending image that ${name === "invalid" ? "fails its self-test" : name === "crash" ? "throws" : name === "rejects" ? "leaves a rejection unhandled" : name === "hang" ? "spins under the watchdog" : "waits forever under the watchdog"} rolls back`, (t) => {
		const flash = device(image("updater", "1.0.0"), image(name, "2.0.0"));
		const run = runBoard(flash);
		t.is(run.status, 0, run.stderr);
		t.deepEqual(boots(run).map((b) => [b.slot, b.version]), [[0, "1.0.0"], [1, "2.0.0"], [0, "1.0.0"]]);
		const reboot = run.events.filter((e) => e.type === "reboot")[1];
		t.is(reboot.reason, reason);
		if (reason === "watchdog")
			t.truthy(run.events.find((e) => e.type === "watchdog"));
		if (name === "crash")
			t.regex(reboot.message, /self-test crashed/);
		const rollback = run.events.find((e) => e.type === "rollback");
		t.like(rollback, { from: 1, to: 0, reason: reason === "mark-invalid" ? "invalid" : "aborted" });
		t.is(readOtadata(flash)[1].state, reason === "mark-invalid" ? OTA_STATES.invalid : OTA_STATES.aborted);
		t.falsy(run.events.find((e) => e.type === "bricked"));
	});
}

test("a fed watchdog does not fire; a disarmed one never does", (t) => {
	const flash = device(image("updater", "1.0.0"), image("fed", "2.0.0"));
	const run = runBoard(flash);
	t.is(run.status, 0, run.stderr);
	t.falsy(run.events.find((e) => e.type === "watchdog"));
	t.like(run.events.find((e) => e.type === "fed"), { turns: 6 });
});

test("--wdt-ms: the task watchdog resets a main loop that does not return", (t) => {
	const flash = device(image("updater", "1.0.0"), image("hang", "2.0.0"));
	const run = runBoard(flash, ["--wdt-ms", "50"]);
	t.is(run.status, 0, run.stderr);
	t.truthy(run.events.find((e) => e.type === "watchdog"));
});

test("activate refuses a corrupt image; the bootloader skips a corrupt slot and boots the other", (t) => {
	const bad = Buffer.from(image("good", "2.0.0"));
	bad[200] ^= 0xff;
	const flash = device(image("updater", "1.0.0"), bad);
	const run = runBoard(flash);
	t.is(run.status, 0, run.stderr);
	t.regex(run.events.find((e) => e.type === "reboot")?.message, /Partition\.activate: ota_1 holds no valid image: body SHA-256 mismatch/);
	writeOtadata(flash, 1, { seq: 2, state: OTA_STATES.new });
	const skipped = runBoard(flash);
	t.like(skipped.events.find((e) => e.type === "image-invalid"), { slot: 1, reason: "body SHA-256 mismatch" });
	t.deepEqual(boots(skipped).map((b) => b.slot), [0]);
});

test("a flash with no bootable image is bricked, with a clear event and status 3", (t) => {
	const flash = device(Buffer.from("not an image"));
	const run = runBoard(flash);
	t.is(run.status, 3);
	t.truthy(run.events.find((e) => e.type === "image-invalid" && /bad magic/.test(e.reason)));
	t.truthy(run.events.find((e) => e.type === "bricked"));
});

test("--max-boots bounds a reboot loop", (t) => {
	const flash = device(image("crash", "1.0.0"));
	const run = runBoard(flash, ["--max-boots", "3"]);
	t.is(run.status, 4);
	t.is(boots(run).length, 3);
});

test("devconfig reads the config written into fotacfg, and undefined when none", (t) => {
	const flash = device(image("devconfig", "1.0.0"));
	t.like(runBoard(flash).events.find((e) => e.type === "config"), { config: null });
	writeDeviceConfig(flash, { id: "dev-1", server: "https://updates.example" });
	t.deepEqual(runBoard(flash).events.find((e) => e.type === "config")?.config, { id: "dev-1", server: "https://updates.example" });
	const part = findPartition(flash, "fotacfg");
	const bytes = readFileSync(flash);
	bytes[part.offset + 20] ^= 1;
	writeFileSync(flash, bytes);
	const corrupt = runBoard(flash);
	t.truthy(corrupt.events.find((e) => e.type === "reboot" && /devconfig: the factory copy: CRC mismatch/.test(e.message)));
});

test("preference values persist in the nvs partition across boots", (t) => {
	const flash = device(image("prefs", "1.0.0"));
	t.like(runBoard(flash).events.find((e) => e.type === "value"), { value: null, count: null });
	t.like(runBoard(flash).events.find((e) => e.type === "value"), { value: "o".repeat(600), count: 40 });
});

test("preference values of every kind come back from the nvs partition as written: text, booleans, numbers, bytes, a delete", (t) => {
	const flash = device(image("prefs-kinds", "1.0.0"));
	const written = runBoard(flash).events.find((e) => e.type === "written");
	const read = runBoard(flash).events.find((e) => e.type === "read");
	t.truthy(written);
	t.like(read, { text: "é€ a", long: "€".repeat(700), emoji: [0x61, 0xD83D, 0xDE00, 0x62], nul: [0x61, 0, 0x62], yes: true, no: false,
		number: -123456, bytes: [0, 1, 254, 255], gone: null, keys: ["bytes", "emoji", "long", "no", "nul", "number", "text", "yes"] });
	t.deepEqual({ ...read, type: undefined, t: undefined, boot: undefined, ops: undefined }, { ...written, type: undefined, t: undefined, boot: undefined, ops: undefined });
});

test("erases wait for the write after them (one pwrite) and reach the file before any other operation or the exit", (t) => {
	const flash = device(image("erase-write", "1.0.0"));
	const run = runBoard(flash);
	t.is(run.status, 0, run.stderr);
	const reads = run.events.filter((e) => e.type === "read");
	// the read after an erase and a write inside it: the written bytes, the rest of the sector erased
	t.deepEqual(reads[0].runs, [[0xff, 100], [0x11, 200], [0xff, 4096 - 300]]);
	// a write elsewhere puts the waiting erase in first: sectors 2 and 3 erased, sector 4 still 0x33
	t.deepEqual(reads[1].runs, [[0x22, 10], [0xff, 4096 - 10 + 2 * 4096], [0x33, 4096]]);
	// a run of four erases, then a write over all of it; a run of two, then a write inside its second sector
	t.deepEqual(reads[2].runs, [[0x44, 4 * 4096]]);
	t.deepEqual(reads[3].runs, [[0xff, 4096 + 8], [0x66, 8], [0xff, 4096 - 16]]);
	t.truthy(run.events.find((e) => e.type === "halting"));
	// the file, after the process: every operation in it, the last erase (waiting when the firmware halted) too
	const slot = findPartition(flash, "ota_1");
	const bytes = readFileSync(flash).subarray(slot.offset, slot.offset + 12 * 4096);
	const expected = Buffer.alloc(12 * 4096, 0xff);
	expected.fill(0x11, 100, 300);
	expected.fill(0x22, 4096, 4096 + 10);
	expected.fill(0x44, 6 * 4096, 10 * 4096);
	expected.fill(0x66, 11 * 4096 + 8, 11 * 4096 + 16);
	t.true(bytes.equals(expected), "the flash file does not hold what the operations left");
});
