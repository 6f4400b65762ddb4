// Partition.verify and activate on the sim board's natives (modules/partition/sim/partition.c): a verified slot
// activates without being read again; a slot written, erased or invalidated after its verification is checked by
// activate itself, which refuses a corrupt image; a digest mismatch and an unbootable image keep their reasons.
import test from "ava";
import { device, image, runBoard, type BoardEvent } from "./lib/board.js";

/** What each step saw, and whether activate read the image itself during it (an "activate-check" event). */
function steps(events: BoardEvent[]): Map<string, { result: any; checked: boolean }> {
	const out = new Map<string, { result: any; checked: boolean }>();
	let current: string | undefined;
	for (const event of events) {
		if (event.type === "step")
			out.set(current = event.name, { result: undefined, checked: false });
		else if (event.type === "activate-check" && current)
			out.get(current)!.checked = true;
		else if (event.type === "seen")
			out.get(event.name)!.result = event.result;
	}
	return out;
}

test("sim board: verify's one pass lets activate skip its read; any change since, or a failed verification, makes activate check, and a corrupt image is refused", (t) => {
	const flash = device(image("verifier", "1.0.0"), image("good", "2.0.0"));
	const run = runBoard(flash);
	t.is(run.status, 0, run.stderr);
	const seen = steps(run.events);
	t.deepEqual(seen.get("verify"), { result: "ok", checked: false });
	t.deepEqual(seen.get("activate-verified"), { result: "ok", checked: false }, "activate read a verified slot again");
	t.like(seen.get("verify-wrong-digest")!.result, { reason: "digest-mismatch" });
	t.regex(seen.get("verify-wrong-digest")!.result.detail, /ota_1: the SHA-256 of its first \d+ bytes is not the signed one/);
	t.deepEqual(seen.get("activate-after-failed-verify"), { result: "ok", checked: true });
	for (const change of ["write", "erase", "invalidate"])
		t.deepEqual(seen.get(`activate-after-${change}`), { result: "ok", checked: true }, change);
	const corrupt = seen.get("activate-after-corruption")!;
	t.true(corrupt.checked);
	t.regex(corrupt.result, /Partition\.activate: ota_1 holds no valid image: body SHA-256 mismatch/);
	t.like(seen.get("verify-corrupt-wrong-digest")!.result, { reason: "digest-mismatch" });
	const unbootable = seen.get("verify-corrupt-signed-digest")!.result;
	t.like(unbootable, { reason: "not-bootable" });
	t.regex(unbootable.detail, /ota_1 holds no valid image: body SHA-256 mismatch/);
	t.regex(seen.get("activate-corrupt-after-refusal")!.result, /holds no valid image/);
});

test("sim board: the flash-stats event counts the firmware's reads of each slot apart from the bootloader's, and erases per sector", (t) => {
	const flash = device(image("verifier", "1.0.0"), image("good", "2.0.0"));
	const run = runBoard(flash);
	const stats = run.events.filter((e) => e.type === "flash-stats");
	t.is(stats.length, 1, "one boot, one halt");
	const [only] = stats;
	t.is(only!.sector, 4096);
	t.true(only!.bootReads[0] > 0, "the bootloader loaded ota_0");
	t.is(only!.bootReads[1], 0);
	t.true(only!.reads[1] > 0);
	t.deepEqual(only!.erases, [0, 2], "the fixture erases two sectors of ota_1: the spare one after the image, then sector 0");
	t.deepEqual(only!.maxSectorErases, [0, 1]);
});
