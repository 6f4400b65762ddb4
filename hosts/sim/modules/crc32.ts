// CRC-32 (IEEE 802.3, as zlib computes it) for the sim's flash records.
const TABLE = new Uint32Array(256).map((_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++)
		c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});

export function crc32(bytes: Uint8Array, crc = 0): number {
	crc = ~crc >>> 0;
	for (let i = 0; i < bytes.length; i++)
		crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
	return ~crc >>> 0;
}
