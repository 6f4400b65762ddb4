// Hex and byte helpers for tests that run in XS and in Node.
export function fromHex(hex: string): Uint8Array {
	if (hex.length % 2 || /[^0-9a-f]/i.test(hex))
		throw new TypeError(`not hex: ${hex.slice(0, 20)}`);
	const out = new Uint8Array(hex.length / 2);
	for (let i = 0; i < out.length; i++)
		out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
	return out;
}

export function toHex(bytes: Uint8Array | ArrayBuffer): string {
	const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
	let out = "";
	for (const byte of view)
		out += (byte < 16 ? "0" : "") + byte.toString(16);
	return out;
}

/** A copy of `bytes` with bit `bit` (0 = the lowest bit of byte 0) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
	const out = bytes.slice();
	out[bit >> 3] ^= 1 << (bit & 7);
	return out;
}

/** A small seeded PRNG (xorshift32), so that XS and Node draw the same numbers. */
export class Random {
	private state: number;
	constructor(seed: number) {
		this.state = (seed >>> 0) || 0x9e3779b9;
	}
	next(): number {
		let x = this.state;
		x ^= x << 13; x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5; x >>>= 0;
		this.state = x;
		return x;
	}
	/** An integer from 0 to limit - 1. */
	below(limit: number): number {
		return Math.floor((this.next() / 0x100000000) * limit);
	}
	fill(bytes: Uint8Array): Uint8Array {
		for (let i = 0; i < bytes.length; i++)
			bytes[i] = this.next() & 0xff;
		return bytes;
	}
}
