// One pass over the flash, in the client over the fake flash (tools/fleet/memory-flash.ts): the slot is read once,
// for the signed SHA-256 and the image check together; the activation reads nothing again; a slot changed after its
// verification is checked again by the activation; a digest mismatch and an unbootable image keep their reasons.
import test from "ava";
import { createHash } from "node:crypto";
import { Rig } from "./lib/rig.js";
import { bytes } from "./lib/release.js";
import { FakeFlash } from "./fakes/flash.js";
import { Records } from "../../modules/fota/records.js";

const IMAGE = bytes(100_000, 11);

test("an update reads the slot once: the verification's pass is the only read, and the activation checks nothing again", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 2 });
	t.is(await rig.check(), "reboot");
	t.is(rig.flash.bytesRead[1], IMAGE.length);
	t.is(rig.flash.activationChecks, 0);
	t.is(rig.flash.slots[1]!.state, "new");
});

test("an image the bootloader would refuse is rejected as not-bootable by the verification, with its release skipped", async (t) => {
	const rig = new Rig();
	rig.flash.notBootable = "no app image";
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 2 });
	const outcome: any = await rig.check();
	t.like(outcome, { result: "rejected", reason: "not-bootable" });
	t.regex(outcome.detail, /ota_1 holds no valid image: no app image/);
	t.is(rig.flash.bootIndex, 0);
	t.is(rig.flash.slots[1]!.state, "undefined");
	t.is(rig.store.get("failseq"), "2", "an unbootable signed image is the release's fault: skipped");
	t.is(rig.store.get("download"), undefined);
	t.like(rig.server.reports.at(-1), { state: "rejected", error: "not-bootable" });
	t.like(await rig.check(), { result: "none" });
});

test("a digest mismatch is reported as such, even when the image check would refuse the bytes too", async (t) => {
	const rig = new Rig();
	rig.flash.notBootable = "no app image";
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 2 });
	const flipped = IMAGE.slice();
	flipped[4321]! ^= 0x01;
	rig.server.put("/v1/products/demo-board/images/2.0.0.bin", flipped);
	const outcome: any = await rig.check();
	t.like(outcome, { result: "rejected", reason: "digest-mismatch" });
	t.is(rig.flash.bootIndex, 0);
});

test("a read-back that throws (a flash error) ends the check with that error and keeps the download record", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 2 });
	rig.flash.verify = () => { throw new Error("verify ota_1: read failed at 4096"); };
	const outcome: any = await rig.check();
	t.like(outcome, { result: "error", detail: "verify ota_1: read failed at 4096" });
	t.is(rig.flash.bootIndex, 0);
	t.is(new Records(rig.store).progress?.offset, IMAGE.length);
});

test("Flash: a slot written, erased or invalidated after its verification is checked again by activate, which refuses a bad image", (t) => {
	for (const change of ["write", "erase", "invalidate", "reset"] as const) {
		const flash = new FakeFlash(64 * 1024);
		const slot = flash.next();
		flash.erase(slot, 0, 8192);
		flash.write(slot, 0, IMAGE.subarray(0, 8192));
		const digest = new Uint8Array(createHash("sha256").update(IMAGE.subarray(0, 8192)).digest());
		t.deepEqual(flash.verify(slot, 8192, digest), { ok: true });
		if (change === "write")
			flash.write(slot, 8192, new Uint8Array([0]));
		else if (change === "erase")
			flash.erase(slot, 4096, 4096);
		else if (change === "invalidate")
			flash.invalidate(slot);
		else
			flash.verified.clear(); // a reset forgets (boot() does this; the fake cannot boot a slot that is not activated)
		flash.notBootable = "corrupt";
		t.throws(() => flash.activate(slot), { message: /activate ota_1: holds no valid image: corrupt/ }, change);
		t.is(flash.activationChecks, 1, change);
		t.is(flash.slots[1]!.state, "undefined", `${change}: otadata changed`);
	}
});

test("Flash: a slot verified and unchanged activates without a check; a failed verification leaves nothing to trust", (t) => {
	const flash = new FakeFlash(64 * 1024);
	const slot = flash.next();
	flash.erase(slot, 0, 4096);
	flash.write(slot, 0, IMAGE.subarray(0, 4096));
	const digest = new Uint8Array(createHash("sha256").update(IMAGE.subarray(0, 4096)).digest());
	t.deepEqual(flash.verify(slot, 4096, digest), { ok: true });
	t.like(flash.verify(slot, 4096, new Uint8Array(32)), { ok: false, reason: "digest-mismatch" });
	flash.notBootable = "corrupt";
	t.throws(() => flash.activate(slot), { message: /corrupt/ }, "the failed verification still counted as one");
	flash.notBootable = undefined;
	t.deepEqual(flash.verify(slot, 4096, digest), { ok: true });
	flash.activate(slot);
	t.is(flash.activationChecks, 1);
	t.is(flash.slots[1]!.state, "new");
});
