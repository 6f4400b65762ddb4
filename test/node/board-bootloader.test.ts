// The sim bootloader against a model of ESP-IDF's rules (bootloader_utility.c with rollback, no factory app),
// for every combination of the two otadata entries' states, seq order, a corrupt CRC, and bad images.
import test from "ava";
import { boots, device, image, runBoard } from "./lib/board.js";
import { otaCrc, readOtadata, writeOtadata, OTA_STATES } from "../../tools/sim/flash.js";

type Entry = { seq: number; state: number; crc: number } | undefined; // undefined: erased sector
const BLANK = { seq: 0xffffffff, state: 0xffffffff, crc: 0xffffffff };
const { new: NEW, "pending-verify": PENDING, valid: VALID, invalid: INVALID, aborted: ABORTED, undefined: UNDEFINED } = OTA_STATES;

/** ESP-IDF's choice: returns the slot that boots (or -1) and the otadata it leaves. */
function model(input: [Entry, Entry], loadable: [boolean, boolean]): { slot: number; otadata: Entry[] } {
	const e = input.map((x) => ({ ...(x ?? BLANK) }));
	const invalid = (x: typeof BLANK) => x.seq === 0xffffffff || x.state === INVALID || x.state === ABORTED;
	const valid = (x: typeof BLANK) => !invalid(x) && x.crc === otaCrc(x.seq);
	for (const x of e)
		if (x.state === PENDING)
			x.state = ABORTED;
	let start: number, initial = false;
	if (invalid(e[0]) && invalid(e[1])) {
		start = 0;
		initial = e.every((x) => x.seq === 0xffffffff || x.crc !== otaCrc(x.seq));
	} else {
		const ok = e.map(valid);
		const active = ok[0] && ok[1] ? (e[0].seq >= e[1].seq ? 0 : 1) : ok[0] ? 0 : ok[1] ? 1 : -1;
		start = active < 0 ? -1 : (e[active].seq - 1) % 2;
		if (active >= 0 && e[active].state === NEW)
			e[active].state = PENDING;
	}
	const order = [...Array.from({ length: start + 1 }, (_, i) => start - i), ...[0, 1].filter((i) => i > start)];
	const slot = order.find((i) => loadable[i]) ?? -1;
	if (slot >= 0 && initial)
		e[0] = { seq: slot + 1, state: VALID, crc: otaCrc(slot + 1) };
	return { slot, otadata: e };
}

const STATES: (number | "erased" | "bad-crc")[] = [NEW, PENDING, VALID, INVALID, ABORTED, UNDEFINED, "erased", "bad-crc"];

function entry(state: (typeof STATES)[number], seq: number): Entry {
	if (state === "erased")
		return undefined;
	if (state === "bad-crc")
		return { seq, state: VALID, crc: (otaCrc(seq) ^ 1) >>> 0 };
	return { seq, state, crc: otaCrc(seq) };
}

test("the bootloader follows ESP-IDF's rules for every pair of otadata states", (t) => {
	const good = image("report", "1.0.0"), other = image("report", "2.0.0");
	const bad = Buffer.from(other);
	bad[0] = 0;
	let cases = 0;
	for (const a of STATES) {
		for (const b of STATES) {
			for (const [seqA, seqB] of [[1, 2], [4, 3]]) {
				for (const loadable of [[true, true], [true, false], [false, true]] as [boolean, boolean][]) {
					const input: [Entry, Entry] = [entry(a, seqA), entry(b, seqB)];
					const expected = model(input, loadable);
					const flash = device(loadable[0] ? good : bad, loadable[1] ? other : bad);
					writeOtadata(flash, 0, input[0]);
					writeOtadata(flash, 1, input[1]);
					const run = runBoard(flash, ["--max-boots", "1"]);
					const where = `${JSON.stringify(input)} loadable ${loadable}`;
					if (expected.slot < 0) {
						t.is(run.status, 3, where);
						continue;
					}
					t.is(run.status, 0, `${where}: ${run.stderr}`);
					t.is(boots(run)[0]?.slot, expected.slot, where);
					const left = readOtadata(flash).map(({ seq, state, crc }) => ({ seq, state, crc }));
					t.deepEqual(left, expected.otadata.map((x) => x ?? BLANK), where);
					cases++;
				}
			}
		}
	}
	t.true(cases > 300);
});
