// The flash port over the partition and system modules: esp_ota_* on the ESP32, the emulated flash in the sim.
import Partition from "partition";
import System from "system";
import type { Flash, Slot, SlotVerdict } from "fota/ports";

export const partitionFlash: Flash = {
	sectorSize: Partition.sectorSize,
	running: () => Partition.running(),
	next: () => Partition.next(),
	erase: (slot: Slot, offset: number, length: number) => Partition.erase(slot, offset, length),
	write: (slot: Slot, offset: number, data: Uint8Array) => Partition.write(slot, offset, data),
	read: (slot: Slot, offset: number, length: number) => new Uint8Array(Partition.read(slot, offset, length)),
	sha256: (slot: Slot, length: number) => new Uint8Array(Partition.sha256(slot, length)),
	verify: (slot: Slot, size: number, sha256: Uint8Array): SlotVerdict => {
		const refused = Partition.verify(slot, size, sha256);
		return refused ? { ok: false, reason: refused.reason, detail: refused.detail } : { ok: true };
	},
	invalidate: (slot: Slot) => Partition.invalidate(slot),
	activate: (slot: Slot) => Partition.activate(slot),
	markValid: () => Partition.markValid(),
	markInvalidAndReboot: () => Partition.markInvalidAndReboot(),
	reboot: () => System.restart(),
	lastReset: () => System.resetReason(),
};
