// Seeded mutations of byte strings for fuzzing: flips, overwrites, inserts, deletes, truncation, splices.
import { Random } from "../../xs/lib/bytes.js";

export function mutate(bytes: Uint8Array, random: Random): Uint8Array {
	const count = 1 + random.below(4);
	let out: Uint8Array = bytes.slice();
	for (let i = 0; i < count; i++) {
		const at = random.below(out.length + 1);
		switch (random.below(10)) {
		case 0: if (out.length) out[at % out.length] ^= 1 << random.below(8); break;
		case 1: if (out.length) out[at % out.length] = random.below(256); break;
		case 2: out = concat(out.subarray(0, at), random.fill(new Uint8Array(1 + random.below(8))), out.subarray(at)); break;
		case 3: out = concat(out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + random.below(8)))); break;
		case 4: out = out.slice(0, at); break;
		case 5: { // overwrite with an interesting JSON byte
			const interesting = [0x22, 0x7b, 0x7d, 0x2c, 0x3a, 0x30, 0x2d, 0x5c, 0x00, 0xff, 0x20];
			if (out.length) out[at % out.length] = interesting[random.below(interesting.length)]!;
			break;
		}
		case 6: { // rewrite the length field
			if (out.length >= 6) { out[4] = random.below(256); out[5] = random.below(256); }
			break;
		}
		case 7: case 8: { // keep the JSON valid: change a digit or a letter into another one
			const start = random.below(Math.max(1, out.length));
			for (let k = 0; k < out.length; k++) {
				const j = (start + k) % out.length, byte = out[j]!;
				if (byte >= 0x30 && byte <= 0x39) { out[j] = 0x30 + ((byte - 0x30 + 1 + random.below(9)) % 10); break; }
				if (byte >= 0x61 && byte <= 0x7a) { out[j] = 0x61 + ((byte - 0x61 + 1 + random.below(25)) % 26); break; }
			}
			break;
		}
		default: { // duplicate a slice
			const from = random.below(out.length + 1), length = random.below(32);
			out = concat(out.subarray(0, at), out.slice(from, from + length), out.subarray(at));
		}
		}
	}
	return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
	return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
