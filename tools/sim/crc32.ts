// CRC-32 with the reflected polynomial 0xEDB88320. crc32(bytes) is zlib's; espRomCrc32Le is ESP-IDF's
// esp_rom_crc32_le(init, ...), which inverts init on entry and the result on exit.
const TABLE = new Uint32Array(256).map((_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++)
		c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});

export function espRomCrc32Le(init: number, bytes: Uint8Array): number {
	let crc = ~init >>> 0;
	for (const byte of bytes)
		crc = TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
	return ~crc >>> 0;
}

export function crc32(bytes: Uint8Array): number {
	return espRomCrc32Le(0, bytes);
}
