/*
 * `devconfig` on the simulated board: the fotacfg partition of the board's flash (our sim host and the lin
 * desktop simulator). Layout (README "Device config"): "XSDC", u16 format 1, u16 0, u32 length, u32 CRC-32 of
 * the JSON, then the JSON. Erased means not provisioned (undefined); anything else that does not check out throws.
 */
#include "xsmc.h"
#include "../../../hosts/sim/c/board/board.h" /* the sim board (flash, otadata, images), shared with lin */
#include <stdlib.h>
#include <string.h>

#define HEADER 16u

static uint32_t le32(const uint8_t* p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

void xs_devconfig_read(xsMachine* the)
{
	simBoard* board = simBoardCurrent();
	const simPartition* partition;
	uint8_t header[HEADER];
	uint32_t length;
	char* text;
	if (!board)
		return; /* plain mode: no device config */
	partition = simFindLabel(board, "fotacfg");
	if (!partition)
		xsUnknownError("devconfig: the partition table has no fotacfg partition");
	if (simFlashRead(board, partition->offset, header, sizeof(header)))
		xsUnknownError("devconfig: fotacfg at 0: flash error");
	if ((header[0] == 0xFF) && (header[1] == 0xFF) && (header[2] == 0xFF) && (header[3] == 0xFF))
		return; /* erased: not provisioned */
	length = le32(header + 8);
	if (memcmp(header, "XSDC", 4) || (header[4] != 1) || (header[5] != 0) || (length > partition->size - HEADER))
		xsUnknownError("devconfig: fotacfg holds no valid config header");
	text = malloc(length + 1);
	if (!text)
		xsRangeError("devconfig: out of memory for %u bytes", length);
	if (simFlashRead(board, partition->offset + HEADER, text, length)) {
		free(text);
		xsUnknownError("devconfig: fotacfg at %u: flash error", HEADER);
	}
	if (simCrc32(0, text, length) != le32(header + 12)) {
		free(text);
		xsUnknownError("devconfig: CRC mismatch in fotacfg");
	}
	text[length] = 0;
	xsmcSetString(xsResult, text);
	free(text);
}
