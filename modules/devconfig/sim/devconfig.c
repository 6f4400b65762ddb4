/*
 * `devconfig` on the simulated board (our sim host and the lin desktop simulator): the fotacfg partition of the
 * board's flash, cut into three equal areas of whole sectors: 0 the factory copy, 1 and 2 the working copies
 * (modules/fota/config-store.ts reads and writes the records; this only moves bytes). An area is blank when its
 * first four bytes are erased. Reads return the record's header and body, as long as its header says (both record
 * formats keep a u32 length at byte 8; format 1 has a 16-byte header, format 2 a 20-byte one), bounded by the area.
 * Writes and erases go through the board's flash, so its power cuts tear them as they tear any other write.
 */
#include "xsmc.h"
#include "../../../hosts/sim/c/board/board.h" /* the sim board (flash, otadata, images), shared with lin */
#include <stdlib.h>
#include <string.h>

#define SECTOR 4096u
#define HEADER 20u

static uint32_t le32(const uint8_t* p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* The area an argument names, as its offset and size in the flash; throws naming the operation. */
static void areaOf(xsMachine* the, const char* operation, int firstWritable, uint32_t* offset, uint32_t* size)
{
	simBoard* board = simBoardCurrent();
	const simPartition* partition;
	int area;
	if (!board)
		xsUnknownError("%s: no board (the sim host runs without a flash file)", operation);
	partition = simFindLabel(board, "fotacfg");
	if (!partition)
		xsUnknownError("%s: the partition table has no fotacfg partition", operation);
	area = xsmcToInteger(xsArg(0));
	if ((area < firstWritable) || (area > 2))
		xsRangeError("%s: area %d is not one of %s", operation, area, firstWritable ? "1, 2" : "0, 1, 2");
	*size = (partition->size / 3u) / SECTOR * SECTOR;
	if (*size < SECTOR)
		xsUnknownError("%s: fotacfg (%u bytes) is too small for three areas", operation, (unsigned)partition->size);
	*offset = partition->offset + (uint32_t)area * *size;
}

void xs_devconfig_read(xsMachine* the)
{
	uint32_t offset, size, length, header;
	uint8_t head[HEADER];
	if (!simBoardCurrent())
		return; /* plain mode: no device config */
	areaOf(the, "devconfig.read", 0, &offset, &size);
	if (simFlashRead(simBoardCurrent(), offset, head, sizeof(head)))
		xsUnknownError("devconfig.read: fotacfg at 0x%x: flash error", (unsigned)offset);
	if ((head[0] == 0xFF) && (head[1] == 0xFF) && (head[2] == 0xFF) && (head[3] == 0xFF))
		return; /* blank */
	header = (head[4] == 1) ? 16u : HEADER;
	length = le32(head + 8);
	length = (length <= size - header) ? header + length : HEADER; /* an impossible length: the header alone, judged above */
	xsmcSetArrayBuffer(xsResult, NULL, (xsIntegerValue)length);
	if (simFlashRead(simBoardCurrent(), offset, xsmcToArrayBuffer(xsResult), length))
		xsUnknownError("devconfig.read: fotacfg at 0x%x: flash error", (unsigned)offset);
}

void xs_devconfig_erase(xsMachine* the)
{
	uint32_t offset, size;
	areaOf(the, "devconfig.erase", 1, &offset, &size);
	if (simFlashErase(simBoardCurrent(), offset, size))
		xsUnknownError("devconfig.erase: fotacfg at 0x%x: flash error", (unsigned)offset);
}

void xs_devconfig_write(xsMachine* the)
{
	uint32_t offset, size;
	void* data;
	xsUnsignedValue length;
	areaOf(the, "devconfig.write", 1, &offset, &size);
	if (xsmcArgc < 2)
		xsTypeError("devconfig.write: expects the record's bytes");
	xsmcGetBufferReadable(xsArg(1), &data, &length);
	if ((length == 0) || ((uint32_t)length > size))
		xsRangeError("devconfig.write: a %u-byte record does not fit an area of %u bytes", (unsigned)length, (unsigned)size);
	if (simFlashErase(simBoardCurrent(), offset, size))
		xsUnknownError("devconfig.write: erasing fotacfg at 0x%x: flash error", (unsigned)offset);
	if (simFlashWrite(simBoardCurrent(), offset, data, (uint32_t)length))
		xsUnknownError("devconfig.write: fotacfg at 0x%x: flash error", (unsigned)offset);
}
