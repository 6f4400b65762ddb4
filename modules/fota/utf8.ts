// Strict UTF-8 decoding (and plain encoding), in plain JavaScript so that it runs alike in XS and Node (XS's TextDecoder is a
// Moddable module, Node's a global). Overlong forms, surrogates, code points above U+10FFFF and truncated
// sequences are errors, never replaced: a signed manifest either decodes exactly or is rejected.

/** Decodes `bytes` as UTF-8; returns undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
	let out = "";
	let units: number[] = [];
	for (let i = 0; i < bytes.length;) {
		const lead = bytes[i]!;
		let point: number, extra: number, min: number;
		if (lead < 0x80) {
			point = lead; extra = 0; min = 0;
		}
		else if (lead >= 0xc2 && lead <= 0xdf) {
			point = lead & 0x1f; extra = 1; min = 0x80;
		}
		else if (lead >= 0xe0 && lead <= 0xef) {
			point = lead & 0x0f; extra = 2; min = 0x800;
		}
		else if (lead >= 0xf0 && lead <= 0xf4) {
			point = lead & 0x07; extra = 3; min = 0x10000;
		}
		else
			return undefined;
		if (i + extra >= bytes.length)
			return undefined;
		for (let k = 1; k <= extra; k++) {
			const next = bytes[i + k]!;
			if ((next & 0xc0) !== 0x80)
				return undefined;
			point = (point << 6) | (next & 0x3f);
		}
		if (point < min || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
			return undefined;
		i += extra + 1;
		if (point >= 0x10000) {
			point -= 0x10000;
			units.push(0xd800 + (point >> 10), 0xdc00 + (point & 0x3ff));
		}
		else
			units.push(point);
		if (units.length >= 1024) {
			out += String.fromCharCode(...units);
			units = [];
		}
	}
	return out + String.fromCharCode(...units);
}

/** Encodes a string as UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder does). */
export function encodeUtf8(text: string): Uint8Array {
	const out: number[] = [];
	for (let i = 0; i < text.length; i++) {
		let point = text.charCodeAt(i);
		if (point >= 0xd800 && point <= 0xdbff && i + 1 < text.length) {
			const low = text.charCodeAt(i + 1);
			if (low >= 0xdc00 && low <= 0xdfff) {
				point = 0x10000 + ((point - 0xd800) << 10) + (low - 0xdc00);
				i++;
			}
		}
		if (point >= 0xd800 && point <= 0xdfff)
			point = 0xfffd;
		if (point < 0x80)
			out.push(point);
		else if (point < 0x800)
			out.push(0xc0 | (point >> 6), 0x80 | (point & 0x3f));
		else if (point < 0x10000)
			out.push(0xe0 | (point >> 12), 0x80 | ((point >> 6) & 0x3f), 0x80 | (point & 0x3f));
		else
			out.push(0xf0 | (point >> 18), 0x80 | ((point >> 12) & 0x3f), 0x80 | ((point >> 6) & 0x3f), 0x80 | (point & 0x3f));
	}
	return new Uint8Array(out);
}
