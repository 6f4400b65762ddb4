// The device config's flash for Node tests: three areas of NOR flash (erase to 0xFF, writes land in order), read
// as the natives read them, and power cuts shared with a store: every erase, write, store set and store delete is
// one operation of a PowerClock, and the operation after its budget is torn (a write lands a seeded part of its
// bytes, an erase blanks a seeded part of the area) and throws PowerCut. The store's changes are atomic, as NVS's.
import type { ConfigArea, ConfigFlash, Store, StoreValue, WorkingArea } from "../../../modules/fota/ports.js";
import { MapStore } from "./device.js";
import { PowerCut } from "./flash.js";

export { PowerCut };

/** The operation budget before a cut, and the seeded choice of how much of the torn operation lands. */
export class PowerClock {
	operations = 0;
	cutAfter = Infinity;
	#seed: number;
	constructor(seed = 1) {
		this.#seed = seed >>> 0 || 1;
	}
	/** A number in [0, 1) from the seed (xorshift32). */
	random(): number {
		let x = this.#seed;
		x ^= x << 13; x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5; x >>>= 0;
		this.#seed = x;
		return x / 0x100000000;
	}
	/** True when this operation is the one cut. */
	tick(): boolean {
		return ++this.operations > this.cutAfter;
	}
	reset(): void {
		this.operations = 0;
		this.cutAfter = Infinity;
	}
}

export class FakeConfigFlash implements ConfigFlash {
	readonly areas: Record<ConfigArea, Uint8Array>;
	writes = 0;
	erases = 0;
	constructor(readonly power = new PowerClock(), readonly size = 8192) {
		this.areas = { "factory": new Uint8Array(size).fill(0xff), "working-1": new Uint8Array(size).fill(0xff), "working-2": new Uint8Array(size).fill(0xff) };
	}
	read(area: ConfigArea): Uint8Array | undefined {
		const bytes = this.areas[area];
		if (bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff)
			return undefined;
		const header = bytes[4] === 1 ? 16 : 20;
		const length = (bytes[8]! | (bytes[9]! << 8) | (bytes[10]! << 16) | (bytes[11]! << 24)) >>> 0;
		return bytes.slice(0, length <= this.size - header ? header + length : 20);
	}
	write(area: WorkingArea, bytes: Uint8Array): void {
		if (bytes.length > this.size)
			throw new RangeError(`devconfig.write: ${bytes.length} bytes do not fit ${this.size}`);
		this.erase(area);
		this.writes++;
		if (this.power.tick()) {
			this.areas[area].set(bytes.subarray(0, Math.floor(this.power.random() * bytes.length)));
			throw new PowerCut(`power cut writing ${area} (operation ${this.power.operations})`);
		}
		this.areas[area].set(bytes);
	}
	erase(area: WorkingArea): void {
		this.erases++;
		if (this.power.tick()) {
			// sector by sector, in order: the first ones are blank, the rest keep their bytes
			const sectors = Math.floor(this.power.random() * (this.size / 4096));
			this.areas[area].fill(0xff, 0, sectors * 4096);
			throw new PowerCut(`power cut erasing ${area} (operation ${this.power.operations})`);
		}
		this.areas[area].fill(0xff);
	}
	/** Writes an area behind the device's back (provisioning, or a test that destroys a copy). */
	poke(area: ConfigArea, bytes: Uint8Array, at = 0): void {
		if (at === 0 && bytes.length < this.size)
			this.areas[area].fill(0xff);
		this.areas[area].set(bytes, at);
	}
}

/** A store whose changes count as operations of the power clock: atomic, and cut before they happen. */
export class PowerStore extends MapStore implements Store {
	constructor(readonly power: PowerClock) {
		super();
	}
	override set(key: string, value: StoreValue): void {
		if (this.power.tick())
			throw new PowerCut(`power cut before setting ${key} (operation ${this.power.operations})`);
		super.set(key, value);
	}
	override delete(key: string): void {
		if (this.power.tick())
			throw new PowerCut(`power cut before deleting ${key} (operation ${this.power.operations})`);
		super.delete(key);
	}
}
