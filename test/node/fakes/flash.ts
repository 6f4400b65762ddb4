// The client tests' flash: the fleet's in-memory model of the OTA slots and ESP-IDF's rollback rules
// (tools/fleet/memory-flash.ts), plus power cuts after the Nth flash operation, with the write in progress torn, and
// an image check that refuses what a test says (notBootable: the bootloader's verdict on the bytes).
// Reboots throw Reboot to unwind the client.
import { MemoryFlash, Reboot } from "../../../tools/fleet/memory-flash.js";
import type { ResetCause, Slot } from "../../../modules/fota/ports.js";

export { Reboot };

export class PowerCut extends Error {
	override name = "PowerCut";
}

export class FakeFlash extends MemoryFlash {
	operations = 0;
	cutAfter = Infinity;
	/** When set, the image check (verify's and activate's) refuses every image with this reason. */
	notBootable: string | undefined;

	constructor(slotSize = 1536 * 1024) {
		super({ slotSize });
	}
	protected override operation(): void {
		if (++this.operations > this.cutAfter)
			throw new PowerCut(`power cut at flash operation ${this.operations}`);
	}
	override write(slot: Slot, offset: number, data: Uint8Array): void {
		this.checkWrite(slot, offset, data);
		if (this.operations + 1 > this.cutAfter) {
			this.operations++;
			this.program(slot.index, offset, data.subarray(0, data.length >> 1)); // half the bytes land
			throw new PowerCut(`power cut in flash write ${this.operations}`);
		}
		super.write(slot, offset, data);
	}
	protected override imageCheck(_slot: Slot): string | undefined {
		return this.notBootable;
	}
	/** Sets a slot's bytes behind the client's back (no NOR rule, no operation counted). */
	poke(index: number, offset: number, data: Uint8Array): void {
		this.overwrite(index, offset, data);
	}
	override boot(cause: ResetCause = "software"): void {
		super.boot(cause);
		this.operations = 0;
		this.cutAfter = Infinity;
	}
}
