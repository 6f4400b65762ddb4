// Power cuts: at every flash operation of an update's activation and first boot, and inside preference writes.
// The board must always come back with the old or the new image, and a torn preference write reads old or new.
import test from "ava";
import { boots, device, image, runBoard } from "./lib/board.js";

const TEARS = ["0", "0.5", "1"];

test("a power cut at every flash operation of an update leaves a device that boots the old or the new image", (t) => {
	const clean = runBoard(device(image("updater", "1.0.0"), image("good", "2.0.0")));
	t.is(clean.status, 0, clean.stderr);
	const total = clean.events.at(-1)!.ops;
	const activate = clean.events.find((e) => e.type === "activate")!;
	t.true(total >= activate.ops + 4, "the activation and the first boot write otadata");
	for (const tear of TEARS) {
		for (let cut = 0; cut < total; cut++) {
			const flash = device(image("updater", "1.0.0"), image("good", "2.0.0"));
			const run = runBoard(flash, ["--power-cut-after", String(cut)], { XSFOTA_POWER_CUT_TEAR: tear });
			const where = `cut after op ${cut}, tear ${tear}`;
			t.is(run.status, 0, `${where}: ${run.stderr}`);
			t.truthy(run.events.find((e) => e.type === "power-cut"), where);
			const afterCut = boots(run).filter((b) => b.ops >= cut);
			t.true(afterCut.every((b) => (b.slot === 0 && b.version === "1.0.0") || (b.slot === 1 && b.version === "2.0.0")), where);
			t.falsy(run.events.find((e) => e.type === "bricked"), where);
			// Whatever was cut, the device ends up running one of its images, never neither.
			const final = runBoard(flash);
			t.is(final.status, 0, where);
			t.true(["1.0.0", "2.0.0"].includes(boots(final)[0]?.version), where);
		}
	}
});

test("XSFOTA_POWER_CUT_AFTER cuts like --power-cut-after", (t) => {
	const run = runBoard(device(image("updater", "1.0.0"), image("good", "2.0.0")), [], { XSFOTA_POWER_CUT_AFTER: "3" });
	t.like(run.events.find((e) => e.type === "power-cut"), { op: 4 });
	t.like(run.events.find((e) => e.type === "reboot"), { reason: "power-cut" });
});

test("a preference write torn by a power cut reads back as the old value or the new one", (t) => {
	const prepared = () => {
		const flash = device(image("prefs", "1.0.0"));
		runBoard(flash); // the stored values are now letters(40), count 40
		return flash;
	};
	const reference = runBoard(prepared());
	t.is(reference.status, 0, reference.stderr);
	const start = reference.events.find((e) => e.type === "value")!.ops;
	const total = reference.events.at(-1)!.ops;
	const letters = (i: number) => String.fromCharCode(96 + (i % 26) + 1).repeat(600);
	const allowed = new Set<string>([letters(40)]);
	for (let i = 1; i <= 40; i++)
		allowed.add(letters(i));
	// Every operation of the 80 writes, with their compactions, from a device that already holds values.
	for (const tear of ["0.5", "0.1"]) {
		for (let cut = start; cut < total; cut += tear === "0.5" ? 1 : 3) {
			const copy = prepared();
			const base = runBoard(copy, ["--power-cut-after", String(cut)], { XSFOTA_POWER_CUT_TEAR: tear });
			const values = base.events.filter((e) => e.type === "value");
			t.is(values.length, 2, `cut ${cut}: ${base.stderr}`);
			const after = values[1];
			t.true(allowed.has(after.value), `cut ${cut}, tear ${tear}: read ${String(after.value).slice(0, 8)}…`);
			t.true(Number.isInteger(after.count) && after.count >= 1 && after.count <= 40, `cut ${cut}: count ${after.count}`);
		}
	}
});
