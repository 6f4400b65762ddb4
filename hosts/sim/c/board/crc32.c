/*
 * The one CRC-32 of our C (IEEE 802.3, reflected, polynomial 0xEDB88320), with zlib's and ESP-IDF's
 * esp_rom_crc32_le convention: crc is the value so far (0 to start), inverted on the way in and out.
 * Image headers and the device config use simCrc32(0, ...); otadata uses simCrc32(UINT32_MAX, ...) as ESP-IDF does.
 */
#include "board.h"

uint32_t simCrc32(uint32_t crc, const void* data, uint32_t length)
{
	const uint8_t* bytes = data;
	uint32_t i;
	int bit;
	crc = ~crc;
	for (i = 0; i < length; i++) {
		crc ^= bytes[i];
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}
