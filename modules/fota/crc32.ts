// CRC-32 with the reflected polynomial 0xEDB88320: the one CRC-32 of our TypeScript, in XS and Node alike. The
// device config's records (config-store.ts) and the sim's NVS log check themselves with it; the sim tools write
// otadata and images with it. crc32(bytes) is zlib's, and crc32(more, crc32(first)) continues over a second piece;
// espRomCrc32Le is ESP-IDF's esp_rom_crc32_le(init, ...), which inverts init on entry and the result on exit.
const TABLE = new Uint32Array(256).map((_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++)
		c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});

export function espRomCrc32Le(init: number, bytes: Uint8Array): number {
	let crc = ~init >>> 0;
	for (let i = 0; i < bytes.length; i++)
		crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
	return ~crc >>> 0;
}

export function crc32(bytes: Uint8Array, crc = 0): number {
	return espRomCrc32Le(crc, bytes);
}
