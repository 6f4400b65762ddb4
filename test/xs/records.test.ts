// The client's counters over the sim's Preference, which refuses what the ESP32's Preference (NVS) refuses:
// the largest sequence (2^53 - 1) and security version (2^32 - 1) must survive it exactly.
import Preference from "preference";
import { Records } from "fota/records";
import { PreferenceStore } from "fota-moddable/store";
import { test } from "./lib/harness.js";
import { allocated } from "./lib/allocated.js";

test("the sim's Preference refuses what the ESP32's refuses: numbers that are not int32, long strings", (t) => {
	Preference.set("nvsrules", "min", -2147483648);
	Preference.set("nvsrules", "max", 2147483647);
	t.is(Preference.get("nvsrules", "max"), 2147483647);
	for (const value of [2147483648, -2147483649, 1.5, 2 ** 53 - 1, 4294967295, NaN, Infinity])
		t.throws(() => Preference.set("nvsrules", "n", value), { instanceOf: RangeError, message: /int32/ }, `${value} was accepted`);
	t.is(Preference.get("nvsrules", "n"), undefined);
	Preference.set("nvsrules", "s", "x".repeat(3999));
	t.throws(() => Preference.set("nvsrules", "s", "x".repeat(4000)), { instanceOf: RangeError });
	t.throws(() => Preference.set("nvsrules", "s", "é".repeat(2000)), { instanceOf: RangeError }); // 4000 UTF-8 bytes
	t.throws(() => Preference.set("nvsrules", "o", {} as any), { instanceOf: TypeError });
});

test("the largest sequence and security version survive the store exactly", (t) => {
	const records = new Records(new PreferenceStore("recordsxs"));
	records.raiseSequence(2 ** 53 - 1);
	records.raiseSecurityVersion(2 ** 32 - 1);
	records.failedSequence = 2 ** 53 - 2;
	const again = new Records(new PreferenceStore("recordsxs"));
	t.is(again.sequence, 2 ** 53 - 1);
	t.is(again.securityVersion, 2 ** 32 - 1);
	t.is(again.failedSequence, 2 ** 53 - 2);
	t.is(Preference.get("recordsxs", "seq"), "9007199254740991");
});

test("counters written as int32 numbers by an earlier version still read; a foreign value reads as 0", (t) => {
	Preference.set("recordsold", "seq", 41);
	Preference.set("recordsold", "secver", "007");
	const records = new Records(new PreferenceStore("recordsold"));
	t.is(records.sequence, 41);
	t.is(records.securityVersion, 0, "a non-canonical counter was trusted");
	records.raiseSequence(42);
	t.is(Preference.get("recordsold", "seq"), "42");
});

// Issue 14 ("no strings built per chunk"): a download checkpoints at every chunk. It wrote the whole record as JSON
// each time, a string of about 200 bytes a checkpoint on the heap; it now writes the offset alone, a number.
test("a download's checkpoint over the sim's Preference allocates nothing: 448 checkpoints cost no more than 16", async (t) => {
	const records = new Records(new PreferenceStore("recordsckpt"));
	records.progress = { sequence: 3, sha256: "ab".repeat(32), size: 8 * 1024 * 1024, slot: 1, offset: 0, etag: '"0123456789abcdef"' };
	const run = (count: number) => async () => {
		for (let i = 1; i <= count; i++)
			records.checkpoint(i * 16384);
	};
	const few = await allocated(run(16));
	const many = await allocated(run(448));
	t.is(records.progress!.offset, 448 * 16384);
	t.is(records.progress!.etag, '"0123456789abcdef"');
	t.true(many - few <= 256, `${many - few} bytes more for 432 more checkpoints (${few} for 16)`);
});
