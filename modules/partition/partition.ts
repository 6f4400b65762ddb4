// The OTA slots: the inactive one to write an update into, the running one's state, and the boot choice.
// Natives: esp32/partition.c (esp_ota_*, esp_partition_*) on the ESP32, native/partition.c on the sim board.
export type SlotState = "new" | "pending-verify" | "valid" | "invalid" | "aborted" | "undefined";

export interface Slot {
	label: string;
	index: number; // OTA slot number: 0 for ota_0, 1 for ota_1
	size: number;  // bytes
}

export type Bytes = ArrayBuffer | Uint8Array;

/** Why verify refuses a slot: its bytes are not the signed ones, or the activation's image check refuses them. */
export interface SlotRefusal {
	reason: "digest-mismatch" | "not-bootable";
	detail: string;
}

export default class Partition {
	static readonly sectorSize: number = 4096;

	/** The slot that booted, with its otadata state. */
	static running(): Slot & { state: SlotState } {
		return native("xs_partition_running")();
	}
	/** The inactive OTA slot: the update target. */
	static next(): Slot {
		return native("xs_partition_next")();
	}
	/** Erases [offset, offset + length) of the slot; both must be multiples of sectorSize (RangeError otherwise). */
	static erase(slot: Slot, offset: number, length: number): void {
		native("xs_partition_erase")(slot.index, slot.label, offset, length);
	}
	/** Writes at offset. NOR flash: a write can only clear bits, so write erased bytes (Error otherwise). */
	static write(slot: Slot, offset: number, data: Bytes): void {
		native("xs_partition_write")(slot.index, slot.label, offset, data);
	}
	static read(slot: Slot, offset: number, length: number): ArrayBuffer {
		return native("xs_partition_read")(slot.index, slot.label, offset, length);
	}
	/** The SHA-256 of the slot's first `length` bytes, read and hashed in native code. */
	static sha256(slot: Slot, length: number): ArrayBuffer {
		return native("xs_partition_sha256")(slot.index, slot.label, length);
	}
	/** One pass over the slot's first `length` bytes: their SHA-256 against `sha256` (32 bytes) and, from the same
	 * reads, the image check activate makes (on the sim board all of it; on the ESP32 the app image's magic, since
	 * esp_ota_set_boot_partition checks the rest again). undefined when both pass, else why not. A slot that passes
	 * and is then not written, erased or invalidated activates without being read again (sim board; RAM only). */
	static verify(slot: Slot, length: number, sha256: Bytes): SlotRefusal | undefined {
		return native("xs_partition_verify")(slot.index, slot.label, length, sha256);
	}
	/** Erases any otadata entry that would boot this inactive slot, before the slot is rewritten (as ESP-IDF's
	 * esp_ota_invalidate_inactive_ota_data_slot, which esp_ota_begin calls). Throws if an entry still would. */
	static invalidate(slot: Slot): void {
		native("xs_partition_invalidate")(slot.index, slot.label);
	}
	/** Makes the slot the boot slot in otadata, in state NEW, once its image passes the check: a slot that verify
	 * accepted and that has not changed since is not read again on the sim board; any other is checked here (the
	 * ESP32's esp_ota_set_boot_partition always checks). Throws when the image is refused. */
	static activate(slot: Slot): void {
		native("xs_partition_activate")(slot.index, slot.label);
	}
	/** The running image is good: cancels the rollback (VALID). */
	static markValid(): void {
		native("xs_partition_mark_valid")();
	}
	/** The running image is bad: marks it INVALID and reboots into the other slot. Throws when no other image can boot. */
	static markInvalidAndReboot(): never {
		native("xs_partition_mark_invalid_and_reboot")();
		throw new Error("Partition.markInvalidAndReboot: did not reboot");
	}
}
