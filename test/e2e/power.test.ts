// Power losses over a whole update on the sim board, with the real bootloader, otadata and server (issue 9,
// defects 6 and 7): a cut while a passed trial marks v2 valid, a power loss in the middle of the trial, a stale
// otadata entry after a cut, and a seeded campaign of single and double cuts with random tears. Each ends with
// the device on v2, confirmed after a passing trial: no brick, no image confirmed untried, no good release lost.
import test, { type ExecutionContext } from "ava";
import { builds, hostileFor, is, withBoard, world } from "./lib.js";
import { isImage, isManifest, only, sleep } from "./hostile.js";
import { otaCrc, readOtadata, writeDeviceConfig, writeOtadata } from "../../tools/sim/flash.js";
import type { BoardEvent } from "../../tools/demo/board.js";
import { copyFileSync } from "node:fs";

/** The devices here fail fast when the server is gone: a trial's server check waits at most 3 s. */
const FAST = { timeoutSeconds: 3, requestDeadlineSeconds: 3, reportDeadlineSeconds: 1 };

/** What every run must show: never bricked (withBoard checks), only v1 and v2 booted, every "valid" after a passing
 * trial in the same boot, and no release skipped. */
function sound(t: ExecutionContext, events: BoardEvent[], where: string, versions = ["1.0.0", "2.0.0"]): void {
	t.true(events.filter(is("boot")).every((event) => versions.includes(event.version)), `${where}: an unknown image booted`);
	events.forEach((event, index) => {
		if (event.type !== "valid")
			return;
		const passed = events.slice(0, index).some((e) => e.boot === event.boot && e.type === "selftest" && e.result === "pass");
		t.true(passed, `${where}: ${event.version} marked valid without a passing trial in boot ${event.boot}`);
	});
	t.false(events.some((event) => event.type === "none" && event.why === "previously-failed"), `${where}: the good release was skipped`);
	t.false(events.some((event) => event.type === "rollback" && /crashed|did-not-start/.test(String(event.reason))), `${where}: a power loss was blamed on the image`);
}

test.serial("a cut at each flash operation while a passed trial marks v2 valid: v2 is activated again and confirmed, never blamed", async (t) => {
	const w = await world();
	try {
		const { v1, v2 } = builds(w);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		let pass = 0, valid = 0;
		await withBoard(w, w.device("confirm-measure", v1, FAST), async (board) => {
			pass = (await board.waitFor(is("selftest", { result: "pass" }), 30000, "the passed trial")).ops;
			valid = (await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed")).ops;
		});
		t.true(valid - pass >= 2, `only ${valid - pass} flash operations between the trial's pass and "valid"`);
		for (let cut = pass; cut < valid; cut++) {
			await withBoard(w, w.device(`confirm-${cut}`, v1, FAST), async (board) => {
				await board.waitFor(is("power-cut"), 30000, `cut ${cut}`);
				await board.waitFor((e) => e.type === "valid" && e.version === "2.0.0" && e.ops > cut, 40000, `cut ${cut}: v2 confirmed after the cut`);
				sound(t, board.events, `cut ${cut}`);
				const interrupted = board.events.find(is("interrupted"));
				// the cut landed before otadata said VALID: the old image ran, and said why (a cut in the write of the
				// record that says the trial passed leaves the record from before: the trial was cut short)
				if (interrupted)
					t.true(["reset-while-confirming", "power-loss-in-trial"].includes(interrupted.reason), `cut ${cut}: ${interrupted.reason}`);
			}, { args: ["--power-cut-after", String(cut)], env: { XSFOTA_POWER_CUT_TEAR: "0.5" } });
		}
	} finally {
		await w.stop();
	}
});

test.serial("a power loss in the middle of the trial: the old image says so and activates v2 again, which is confirmed", async (t) => {
	const w = await world();
	const hostile = await hostileFor(w);
	try {
		const { v1, v2 } = builds(w);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const flash = w.device("trial-power", v1, { ...FAST, server: hostile.url });
		const first = w.boot(flash);
		try {
			await first.waitFor(is("reboot", { reason: "update" }), 30000, "v2's activation");
			// v2's trial asks the server for the manifest; the answer is held until the power goes
			hostile.behaviour = only(isManifest, () => sleep(10_000));
			await first.waitFor(is("selftest", { result: "start", version: "2.0.0" }), 30000, "v2's trial");
			await sleep(300);
		} finally {
			first.child.kill("SIGKILL"); // the power goes: nothing more runs, nothing more is written
			await first.exit;
		}
		t.false(first.events.some(is("selftest", { result: "pass" })), "the trial ended before the power went");
		hostile.behaviour = undefined;
		await withBoard(w, flash, async (board) => {
			const interrupted = await board.waitFor(is("interrupted"), 30000, "the interruption reported");
			t.like(interrupted, { version: "2.0.0", reason: "power-loss-in-trial", reset: "power-on" });
			t.like(board.events.find(is("boot")), { slot: 0, version: "1.0.0" });
			await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed");
			t.false(board.events.some(is("progress")), "the image was fetched again although the slot held it");
			sound(t, board.events, "after the power loss");
			await board.waitFor((e) => e.type === "report" && e.state === "valid", 10000, "the report of v2");
		});
		t.like((await w.record("trial-power")), { version: "2.0.0", state: "valid" });
	} finally {
		await hostile.close();
		await w.stop();
	}
});

const crcOk = (entry: { seq: number; crc: number }) => entry.seq !== 0xffffffff && entry.crc === otaCrc(entry.seq);

test.serial("a stale otadata entry: the slot being rewritten loses it first, and an image reached without an activation is tried before it is confirmed", async (t) => {
	const w = await world();
	try {
		const { v1, v2 } = builds(w);
		const v3 = w.firmware({ version: "3.0.0" });
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const base = w.device("stale", v1, FAST);
		await withBoard(w, base, async (board) => { await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed"); });
		// ota_0 keeps its entry from v1 ({seq 1, VALID}); v2 runs from ota_1 ({seq 2, VALID})
		t.like(readOtadata(base), [{ seq: 1, state: 2 }, { seq: 2, state: 2 }]);
		await w.publish({ version: "3.0.0", sequence: 3, securityVersion: 2, image: v3 });
		const copyOf = (name: string) => {
			const copy = base.replace(/stale\.flash$/, `${name}.flash`);
			copyFileSync(base, copy);
			return copy;
		};
		// while ota_0 is being rewritten (its download held half-way), no otadata entry from before may select it
		const hostile = await hostileFor(w);
		const reference = copyOf("stale-reference");
		writeDeviceConfig(reference, w.deviceConfig("stale", { ...FAST, server: hostile.url }));
		hostile.behaviour = only(isImage, async (exchange, server) => {
			const answer = await server.upstream(exchange);
			server.writeHead(exchange, answer.status, { ...answer.headers, "content-length": answer.body.length });
			await server.write(exchange, answer.body.subarray(0, 40_000));
			await sleep(1500);
			await server.write(exchange, answer.body.subarray(40_000));
			exchange.socket.end();
		});
		try {
			await withBoard(w, reference, async (board) => {
				await board.waitFor((e) => e.type === "progress" && e.offset > 0, 30000, "v3's download");
				t.false(readOtadata(reference).some((entry) => crcOk(entry) && entry.seq === 1), "ota_0 could still boot through its entry from v1 while it was rewritten");
				await board.waitFor(is("activate", { version: "3.0.0" }), 30000, "v3 activated");
			});
		} finally {
			await hostile.close();
		}
		// the flash operations from the verification to the activation, as the cut runs below will count them
		let verified = 0, activated = 0;
		await withBoard(w, copyOf("stale-measure"), async (board) => {
			verified = (await board.waitFor(is("verified", { version: "3.0.0" }), 30000, "v3 verified")).ops;
			activated = (await board.waitFor(is("activate", { version: "3.0.0" }), 30000, "v3 activated")).ops;
		});
		t.true(activated > verified);
		// a cut at each flash operation from the verification to the activation (the pending record, otadata), then
		// the running slot's otadata sector is lost (its CRC fails): the bootloader finds no entry to follow and
		// boots ota_0, whose bytes were never tried. The device must try them before anything trusts them.
		for (let cut = verified; cut < activated; cut++) {
			const flash = copyOf(`stale-${cut}`);
			const cutRun = w.boot(flash, { args: ["--power-cut-after", String(cut), "--max-boots", "1"] });
			await cutRun.exit;
			t.truthy(cutRun.events.find(is("power-cut")), `cut ${cut}: no power cut`);
			t.false(readOtadata(flash).some((entry) => crcOk(entry) && entry.seq === 1), `cut ${cut}: ota_0's entry from v1 survived`);
			writeOtadata(flash, 1, { seq: 2, state: 2, crc: 0xdeadbeef }); // the sector of v2's entry is lost
			await withBoard(w, flash, async (board) => {
				const boot = await board.waitFor(is("boot"), 10000, `cut ${cut}: the boot`);
				t.is(boot.version, "3.0.0", `cut ${cut}`);
				if (boot.state !== "pending-verify")
					await board.waitFor(is("untried"), 10000, `cut ${cut}: v3 booted as ${boot.state} and was not tried`);
				await board.waitFor((e) => e.type === "selftest" && e.result === "pass", 20000, `cut ${cut}: v3's trial`);
				await board.waitFor(is("next-check"), 20000, `cut ${cut}: back to work`);
				sound(t, board.events, `cut ${cut}`, ["3.0.0"]);
			});
		}
	} finally {
		await w.stop();
	}
});
