/*
 * The natives behind `sim/nvs-log` (nvs-log.ts), the sim's Preference store: raw access to the board's nvs
 * partition, and the records' CRC-32. Offsets are relative to the partition; every access is bounds-checked here.
 */
#include "xsmc.h"
#include "../c/board/board.h"
#include <math.h>
#include <string.h>

static const simPartition* nvsOf(xsMachine* the, simBoard** board)
{
	const simPartition* partition;
	*board = simBoardCurrent();
	if (!*board)
		xsUnknownError("preference: no flash here");
	partition = simFindLabel(*board, "nvs");
	if (!partition)
		xsUnknownError("preference: the partition table has no nvs partition");
	return partition;
}

/* The nvs partition's size, or undefined when not on a board. */
void xs_board_nvs_size(xsMachine* the)
{
	simBoard* board = simBoardCurrent();
	const simPartition* partition = board ? simFindLabel(board, "nvs") : NULL;
	if (partition)
		xsmcSetNumber(xsResult, partition->size);
}

static uint32_t nvsRange(xsMachine* the, const simPartition* partition, double offset, double length)
{
	if (!(offset >= 0) || !(length >= 0) || (offset + length > partition->size) || (offset != floor(offset)) || (length != floor(length)))
		xsRangeError("preference: %g bytes at %g are outside nvs", length, offset);
	return partition->offset + (uint32_t)offset;
}

void xs_board_nvs_read(xsMachine* the)
{
	simBoard* board;
	const simPartition* partition = nvsOf(the, &board);
	double length = xsmcToNumber(xsArg(1));
	uint32_t address = nvsRange(the, partition, xsmcToNumber(xsArg(0)), length);
	xsmcSetArrayBuffer(xsResult, NULL, (xsIntegerValue)length);
	if (simFlashRead(board, address, xsmcToArrayBuffer(xsResult), (uint32_t)length))
		xsUnknownError("preference: nvs at %u: flash error", address - partition->offset);
}

/* The first bytes of a buffer: all of them, or the count in the argument at `which` when given (no more than there are). */
static xsUnsignedValue nvsPrefix(xsMachine* the, int which, const char* what, void** data)
{
	xsUnsignedValue length;
	xsmcGetBufferReadable(xsArg(which - 1), data, &length);
	if ((xsmcArgc > which) && (xsmcTypeOf(xsArg(which)) != xsUndefinedType)) {
		double count = xsmcToNumber(xsArg(which));
		if (!(count >= 0) || (count > length) || (count != floor(count)))
			xsRangeError("preference: %s: %g of %u bytes", what, count, (unsigned)length);
		length = (xsUnsignedValue)count;
	}
	return length;
}

/* write(offset, data[, length]) */
void xs_board_nvs_write(xsMachine* the)
{
	simBoard* board;
	const simPartition* partition = nvsOf(the, &board);
	void* data;
	xsUnsignedValue length = nvsPrefix(the, 2, "write", &data);
	uint32_t address;
	address = nvsRange(the, partition, xsmcToNumber(xsArg(0)), length);
	if (simFlashWrite(board, address, data, length))
		xsUnknownError("preference: nvs at %u: flash write failed (not erased?)", address - partition->offset);
}

void xs_board_nvs_erase(xsMachine* the)
{
	simBoard* board;
	const simPartition* partition = nvsOf(the, &board);
	double length = xsmcToNumber(xsArg(1));
	uint32_t address = nvsRange(the, partition, xsmcToNumber(xsArg(0)), length);
	if (simFlashErase(board, address, (uint32_t)length))
		xsUnknownError("preference: nvs at %u: flash erase failed (not sector-aligned?)", address - partition->offset);
}

/* crc32(bytes[, length]): the CRC-32 of the records (simCrc32, zlib's convention) over the first length bytes. */
void xs_board_nvs_crc32(xsMachine* the)
{
	void* data;
	xsUnsignedValue length = nvsPrefix(the, 1, "crc32", &data);
	xsmcSetNumber(xsResult, simCrc32(0, data, length));
}

/* utf8(into, at, text): text's UTF-8 written into the buffer from `at`, with no garbage on the heap (a record's names
 * and text at every write); the count of bytes written, -1 when they do not fit, or -2 when XS's own form of the text
 * is not its UTF-8 (a lone surrogate, or U+0000, which XS keeps as C0 80): the caller encodes that text itself. */
void xs_board_nvs_utf8(xsMachine* the)
{
	void* data;
	xsUnsignedValue length;
	double at;
	const unsigned char* text;
	size_t size, i;
	xsmcGetBufferWritable(xsArg(0), &data, &length);
	at = xsmcToNumber(xsArg(1));
	if (!(at >= 0) || (at > length) || (at != floor(at)))
		xsRangeError("preference: utf8 at %g of %u bytes", at, (unsigned)length);
	text = (const unsigned char*)xsmcToString(xsArg(2));
	size = strlen((const char*)text);
	for (i = 0; i < size; i++) {
		if (((text[i] == 0xC0) && (text[i + 1] == 0x80)) || ((text[i] == 0xED) && ((text[i + 1] & 0xE0) == 0xA0))) {
			xsmcSetInteger(xsResult, -2);
			return;
		}
	}
	if (size > length - (xsUnsignedValue)at) {
		xsmcSetInteger(xsResult, -1);
		return;
	}
	memcpy((unsigned char*)data + (size_t)at, text, size);
	xsmcSetInteger(xsResult, (xsIntegerValue)size);
}
