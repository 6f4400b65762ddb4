// A fake of the OTA slots with NOR semantics (erase to 0xFF, writes only clear bits) and ESP-IDF's
// rollback rules, plus power cuts after the Nth flash operation. Reboots throw Reboot to unwind the client.
import { createHash } from "node:crypto";
import type { Flash, ResetCause, Slot, SlotState } from "../../../modules/fota/ports.js";

export class Reboot extends Error {
	override name = "Reboot";
	constructor(readonly reason: string) {
		super(`reboot: ${reason}`);
	}
}

export class PowerCut extends Error {
	override name = "PowerCut";
}

export class FakeFlash implements Flash {
	readonly sectorSize = 4096;
	readonly slots: { slot: Slot; bytes: Uint8Array; state: SlotState; seq: number }[];
	bootIndex = 0;
	runningIndex = 0;
	operations = 0;
	cutAfter = Infinity;
	writes = 0;
	erases = 0;
	/** why the running image started: set by boot() */
	cause: ResetCause = "power-on";

	constructor(slotSize = 1536 * 1024) {
		this.slots = [0, 1].map((index) => ({
			slot: { label: `ota_${index}`, index, size: slotSize },
			bytes: new Uint8Array(slotSize).fill(0xff),
			state: index === 0 ? "valid" as SlotState : "undefined" as SlotState,
			seq: index === 0 ? 1 : 0,
		}));
	}
	#op(): void {
		if (++this.operations > this.cutAfter)
			throw new PowerCut(`power cut at flash operation ${this.operations}`);
	}
	#slot(slot: Slot) {
		const entry = this.slots[slot.index];
		if (!entry)
			throw new RangeError(`no slot ${slot.index}`);
		return entry;
	}
	running() {
		const entry = this.slots[this.runningIndex]!;
		return { ...entry.slot, state: entry.state };
	}
	next(): Slot {
		return { ...this.slots[1 - this.runningIndex]!.slot };
	}
	erase(slot: Slot, offset: number, length: number): void {
		if (offset % this.sectorSize || length % this.sectorSize)
			throw new RangeError("erase must be sector-aligned");
		if (slot.index === this.runningIndex)
			throw new Error("erasing the running slot");
		this.#op();
		this.erases++;
		this.#slot(slot).bytes.fill(0xff, offset, offset + length);
	}
	write(slot: Slot, offset: number, data: Uint8Array): void {
		if (slot.index === this.runningIndex)
			throw new Error("writing the running slot");
		if (offset + data.length > slot.size)
			throw new RangeError("write past the slot");
		const bytes = this.#slot(slot).bytes;
		if (++this.operations > this.cutAfter) {
			const torn = data.length >> 1; // half the bytes land
			for (let i = 0; i < torn; i++)
				bytes[offset + i]! &= data[i]!;
			throw new PowerCut(`power cut in flash write ${this.operations}`);
		}
		this.writes++;
		for (let i = 0; i < data.length; i++)
			bytes[offset + i]! &= data[i]!;
	}
	read(slot: Slot, offset: number, length: number): Uint8Array {
		return this.#slot(slot).bytes.slice(offset, offset + length);
	}
	sha256(slot: Slot, length: number): Uint8Array {
		return new Uint8Array(createHash("sha256").update(this.#slot(slot).bytes.subarray(0, length)).digest());
	}
	/** The slot's otadata entry goes (one flash operation, when it has one). */
	invalidate(slot: Slot): void {
		if (slot.index === this.runningIndex)
			throw new Error("invalidating the running slot");
		const entry = this.#slot(slot);
		if (entry.seq === 0 && entry.state === "undefined")
			return;
		this.#op();
		entry.state = "undefined";
		entry.seq = 0;
	}
	lastReset(): ResetCause {
		return this.cause;
	}
	activate(slot: Slot): void {
		this.#op();
		const entry = this.#slot(slot);
		entry.state = "new";
		entry.seq = Math.max(...this.slots.map((s) => s.seq)) + 1;
		this.bootIndex = slot.index;
	}
	markValid(): void {
		this.slots[this.runningIndex]!.state = "valid";
	}
	markInvalidAndReboot(): void {
		this.slots[this.runningIndex]!.state = "invalid";
		throw new Reboot("invalid");
	}
	reboot(): void {
		throw new Reboot("restart");
	}
	/** What ESP-IDF's bootloader does at reset: a pending image is aborted, a new one becomes pending. */
	boot(cause: ResetCause = "software"): void {
		this.cause = cause;
		const pending = this.slots.find((s) => s.state === "pending-verify");
		if (pending)
			pending.state = "aborted";
		const candidates = this.slots.filter((s) => s.state === "new" || s.state === "valid" || s.state === "pending-verify")
			.sort((a, b) => b.seq - a.seq);
		const chosen = candidates[0];
		if (!chosen)
			throw new Error("bricked: no bootable slot");
		if (chosen.state === "new")
			chosen.state = "pending-verify";
		this.runningIndex = this.bootIndex = chosen.slot.index;
		this.operations = 0;
		this.cutAfter = Infinity;
	}
}
