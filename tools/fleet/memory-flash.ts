// The OTA slots in memory, with NOR semantics (an erase sets a sector to 0xFF, a write only clears bits) and
// ESP-IDF's otadata rules: an activated image is "new", becomes pending-verify at its first boot, and a reset before
// markValid aborts it, so the bootloader falls back to the other slot. One model of those rules, for the fleet
// simulator's virtual devices and, with power cuts added, for the client's tests (test/node/fakes/flash.ts).
//
// verify reads a slot once for the signed SHA-256 and the image check (here: imageCheck, which accepts anything unless
// a subclass says otherwise); activate trusts a slot verified since its last change and checks any other itself.
//
// Thousands of devices share one process, so a slot keeps only the sectors written since their last erase: an
// erased (or never written) sector is no memory at all, and reads as 0xFF.
import { createHash } from "node:crypto";
import type { Flash, ResetCause, Slot, SlotState, SlotVerdict } from "../../modules/fota/ports.js";

/** What a reboot throws when no handler is given: it unwinds the client, as a reset would end its code. */
export class Reboot extends Error {
	override name = "Reboot";
	constructor(readonly reason: string) {
		super(`reboot: ${reason}`);
	}
}

export interface SlotEntry {
	slot: Slot;
	state: SlotState;
	/** the otadata sequence: the highest bootable one boots; 0 for none */
	seq: number;
}

export interface MemoryFlashOptions {
	/** bytes per slot (default 1.5 MiB, the ESP32's app partitions) */
	slotSize?: number;
	/** Called by reboot() and markInvalidAndReboot() with "restart" or "invalid". By default they throw Reboot. A
	 * handler that returns lets the caller's code go on, so the handler must stop the device's client. */
	onReboot?: (reason: "restart" | "invalid") => void;
}

const SECTOR = 4096;
const ERASED = new Uint8Array(SECTOR).fill(0xff);

export class MemoryFlash implements Flash {
	readonly sectorSize = SECTOR;
	readonly slots: SlotEntry[];
	bootIndex = 0;
	runningIndex = 0;
	writes = 0;
	erases = 0;
	/** bytes read from each slot (read, sha256, verify, and activate's own image check) */
	readonly bytesRead = [0, 0];
	/** activations that had to check the image themselves (no verification, or the slot changed since) */
	activationChecks = 0;
	/** the slots verify accepted, unchanged since; a reset forgets them */
	readonly verified = new Set<number>();
	/** why the running image started: set by boot() */
	cause: ResetCause = "power-on";
	/** each slot's written sectors; undefined is erased */
	readonly #sectors: (Uint8Array | undefined)[][];
	readonly #onReboot: ((reason: "restart" | "invalid") => void) | undefined;

	constructor(options: MemoryFlashOptions = {}) {
		const slotSize = options.slotSize ?? 1536 * 1024;
		if (slotSize % SECTOR)
			throw new RangeError(`a slot's size must be a multiple of ${SECTOR}`);
		this.slots = [0, 1].map((index) => ({
			slot: { label: `ota_${index}`, index, size: slotSize },
			state: index === 0 ? "valid" : "undefined",
			seq: index === 0 ? 1 : 0,
		}));
		this.#sectors = [[], []];
		this.#onReboot = options.onReboot;
	}

	/** A flash operation begins (an erase, a write, an otadata change): a subclass may cut the power here. */
	protected operation(): void {}

	protected entry(slot: Slot): SlotEntry {
		const entry = this.slots[slot.index];
		if (!entry)
			throw new RangeError(`no slot ${slot.index}`);
		return entry;
	}

	/** Bytes held in memory by the slots' written sectors. */
	get residentBytes(): number {
		let total = 0;
		for (const sectors of this.#sectors)
			for (const sector of sectors)
				total += sector ? SECTOR : 0;
		return total;
	}

	running() {
		const entry = this.slots[this.runningIndex]!;
		return { ...entry.slot, state: entry.state };
	}
	next(): Slot {
		return { ...this.slots[1 - this.runningIndex]!.slot };
	}
	erase(slot: Slot, offset: number, length: number): void {
		if (offset % SECTOR || length % SECTOR)
			throw new RangeError("erase must be sector-aligned");
		if (slot.index === this.runningIndex)
			throw new Error("erasing the running slot");
		if (offset + length > this.entry(slot).slot.size)
			throw new RangeError("erase past the slot");
		this.operation();
		this.erases++;
		this.verified.delete(slot.index);
		const sectors = this.#sectors[slot.index]!;
		for (let at = offset / SECTOR; at < (offset + length) / SECTOR && at < sectors.length; at++)
			sectors[at] = undefined;
		while (sectors.length && sectors[sectors.length - 1] === undefined)
			sectors.pop();
	}
	/** The checks of a write: not the running slot, not past the slot's end. */
	protected checkWrite(slot: Slot, offset: number, data: Uint8Array): void {
		if (slot.index === this.runningIndex)
			throw new Error("writing the running slot");
		if (offset < 0 || offset + data.length > this.entry(slot).slot.size)
			throw new RangeError("write past the slot");
	}
	write(slot: Slot, offset: number, data: Uint8Array): void {
		this.checkWrite(slot, offset, data);
		this.operation();
		this.writes++;
		this.verified.delete(slot.index);
		this.program(slot.index, offset, data);
	}
	/** The slot changed behind verify's back (a subclass's torn write, a test's poke): its verification is void. */
	protected changed(index: number): void {
		this.verified.delete(index);
	}
	/** NOR programming: each byte ANDed into the flash; no checks, no counting. */
	protected program(index: number, offset: number, data: Uint8Array): void {
		this.changed(index);
		this.#apply(index, offset, data, (sector, at, from, to) => {
			for (let i = from; i < to; i++)
				sector[at++]! &= data[i]!;
		});
	}
	/** Bytes set as they are, whatever was there (no NOR rule): for tests that corrupt a slot behind the client's back. */
	protected overwrite(index: number, offset: number, data: Uint8Array): void {
		this.changed(index);
		this.#apply(index, offset, data, (sector, at, from, to) => sector.set(data.subarray(from, to), at));
	}
	#apply(index: number, offset: number, data: Uint8Array, put: (sector: Uint8Array, at: number, from: number, to: number) => void): void {
		const sectors = this.#sectors[index]!;
		for (let from = 0; from < data.length;) {
			const address = offset + from;
			const number = Math.floor(address / SECTOR), at = address % SECTOR;
			const to = Math.min(data.length, from + SECTOR - at);
			while (sectors.length <= number)
				sectors.push(undefined);
			const sector = sectors[number] ??= new Uint8Array(ERASED);
			put(sector, at, from, to);
			from = to;
		}
	}
	read(slot: Slot, offset: number, length: number): Uint8Array {
		const size = this.entry(slot).slot.size;
		const end = Math.min(size, offset + length);
		const out = new Uint8Array(Math.max(0, end - offset)).fill(0xff);
		const sectors = this.#sectors[slot.index]!;
		this.bytesRead[slot.index]! += out.length;
		for (let address = offset; address < end;) {
			const number = Math.floor(address / SECTOR), at = address % SECTOR;
			const take = Math.min(end - address, SECTOR - at);
			const sector = sectors[number];
			if (sector)
				out.set(sector.subarray(at, at + take), address - offset);
			address += take;
		}
		return out;
	}
	sha256(slot: Slot, length: number): Uint8Array {
		const hash = createHash("sha256");
		const sectors = this.#sectors[this.entry(slot).slot.index]!;
		this.bytesRead[slot.index]! += length;
		for (let address = 0; address < length; address += SECTOR)
			hash.update((sectors[address / SECTOR] ?? ERASED).subarray(0, Math.min(SECTOR, length - address)));
		return new Uint8Array(hash.digest());
	}
	/** The image check an activation makes (the bootloader's): undefined when the slot would boot, else why not.
	 * Here every image boots; a subclass may refuse some. It counts no reads: its callers do. */
	protected imageCheck(_slot: Slot): string | undefined {
		return undefined;
	}
	/** One pass: sha256 and imageCheck from the same reads; an accepted slot is remembered until it changes. */
	verify(slot: Slot, size: number, sha256: Uint8Array): SlotVerdict {
		this.verified.delete(slot.index);
		const digest = this.sha256(slot, size);
		if (digest.length !== sha256.length || digest.some((byte, i) => byte !== sha256[i]))
			return { ok: false, reason: "digest-mismatch", detail: `${slot.label}: the SHA-256 of its first ${size} bytes is not the signed one` };
		const refused = this.imageCheck(slot);
		if (refused !== undefined)
			return { ok: false, reason: "not-bootable", detail: `${slot.label} holds no valid image: ${refused}` };
		this.verified.add(slot.index);
		return { ok: true };
	}
	/** The slot's otadata entry goes (one flash operation, when it has one). Its bytes stay, as on a real flash: a
	 * download that resumes keeps what it wrote. */
	invalidate(slot: Slot): void {
		if (slot.index === this.runningIndex)
			throw new Error("invalidating the running slot");
		const entry = this.entry(slot);
		this.verified.delete(slot.index);
		if (entry.seq === 0 && entry.state === "undefined")
			return;
		this.operation();
		entry.state = "undefined";
		entry.seq = 0;
	}
	lastReset(): ResetCause {
		return this.cause;
	}
	activate(slot: Slot): void {
		if (!this.verified.has(slot.index)) { // not verified, or changed since: the image is checked here
			this.activationChecks++;
			this.bytesRead[slot.index]! += this.entry(slot).slot.size;
			const refused = this.imageCheck(slot);
			if (refused !== undefined)
				throw new Error(`activate ${slot.label}: holds no valid image: ${refused}`);
		}
		this.operation();
		const entry = this.entry(slot);
		entry.state = "new";
		entry.seq = Math.max(...this.slots.map((s) => s.seq)) + 1;
		this.bootIndex = slot.index;
	}
	markValid(): void {
		this.slots[this.runningIndex]!.state = "valid";
	}
	markInvalidAndReboot(): void {
		this.slots[this.runningIndex]!.state = "invalid";
		this.#reboot("invalid");
	}
	reboot(): void {
		this.#reboot("restart");
	}
	#reboot(reason: "restart" | "invalid"): void {
		if (!this.#onReboot)
			throw new Reboot(reason);
		this.#onReboot(reason);
	}
	/** What ESP-IDF's bootloader does at reset: a pending image is aborted, a new one becomes pending. */
	boot(cause: ResetCause = "software"): void {
		this.cause = cause;
		this.verified.clear();
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
	}
}
