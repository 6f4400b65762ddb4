/* The sim board's natives behind `watchdog`, `devconfig` and the flash-backed `preference` store. */
#include "../host.h"
#include "board.h"

extern txInteger _xsmcGetBuffer(txMachine* the, txSlot* slot, void** data, txUnsigned* count, txBoolean writable);

static double gxWatchdogTimeout = 0;

/* Watchdog.arm(ms): without a board, an expiry ends the process (timer.c). */
void xs_watchdog_arm(txMachine* the)
{
	double timeout = fxToNumber(the, mxArgv(0));
	if (!(timeout > 0) || !isfinite(timeout))
		mxRangeError("Watchdog.arm: timeout must be > 0");
	gxWatchdogTimeout = timeout;
	mxHost(the)->deadline = simNow() + timeout;
}

void xs_watchdog_feed(txMachine* the)
{
	if (mxHost(the)->deadline > 0)
		mxHost(the)->deadline = simNow() + gxWatchdogTimeout;
}

void xs_watchdog_disarm(txMachine* the)
{
	mxHost(the)->deadline = 0;
}

/* fotacfg (docs: README "Device config"): "XSDC", u16 format 1, u16 0, u32 length, u32 CRC-32 of the JSON, JSON. */
void xs_devconfig_read(txMachine* the)
{
	const simPartition* partition;
	uint8_t header[16];
	uint32_t length, crc = 0xFFFFFFFFu, i;
	char* text;
	int bit;
	if (!gxBoard)
		return; /* plain mode: no device config */
	partition = simFindLabel(gxBoard, "fotacfg");
	if (!partition)
		mxUnknownError("devconfig: the partition table has no fotacfg partition");
	if (simFlashRead(gxBoard, partition->offset, header, sizeof(header)))
		mxUnknownError("devconfig: flash error");
	if ((header[0] == 0xFF) && (header[1] == 0xFF) && (header[2] == 0xFF) && (header[3] == 0xFF))
		return; /* erased: not provisioned */
	length = (uint32_t)header[8] | ((uint32_t)header[9] << 8) | ((uint32_t)header[10] << 16) | ((uint32_t)header[11] << 24);
	if (memcmp(header, "XSDC", 4) || (header[4] != 1) || (header[5] != 0) || (length > partition->size - sizeof(header)))
		mxUnknownError("devconfig: fotacfg holds no valid config header");
	text = malloc(length + 1);
	if (!text)
		mxRangeError("devconfig: out of memory");
	if (simFlashRead(gxBoard, partition->offset + sizeof(header), text, length)) {
		free(text);
		mxUnknownError("devconfig: flash error");
	}
	for (i = 0; i < length; i++) {
		crc ^= (uint8_t)text[i];
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	if (~crc != ((uint32_t)header[12] | ((uint32_t)header[13] << 8) | ((uint32_t)header[14] << 16) | ((uint32_t)header[15] << 24))) {
		free(text);
		mxUnknownError("devconfig: CRC mismatch in fotacfg");
	}
	text[length] = 0;
	mxPushStringC(text);
	free(text);
	mxPullSlot(mxResult);
}

/* The nvs partition for `preference`: its size, or undefined when not on a board. */
static const simPartition* simNvs(txMachine* the)
{
	const simPartition* partition;
	if (!gxBoard)
		mxUnknownError("preference: no flash here");
	partition = simFindLabel(gxBoard, "nvs");
	if (!partition)
		mxUnknownError("preference: the partition table has no nvs partition");
	return partition;
}

void xs_board_nvs_size(txMachine* the)
{
	if (gxBoard && simFindLabel(gxBoard, "nvs"))
		mxPushNumber(simFindLabel(gxBoard, "nvs")->size);
	else
		mxPushUndefined();
	mxPullSlot(mxResult);
}

static uint32_t simNvsRange(txMachine* the, const simPartition* partition, double offset, double length)
{
	if (!(offset >= 0) || !(length >= 0) || (offset + length > partition->size) || (offset != floor(offset)) || (length != floor(length)))
		mxRangeError("preference: %g bytes at %g are outside nvs", length, offset);
	return partition->offset + (uint32_t)offset;
}

void xs_board_nvs_read(txMachine* the)
{
	const simPartition* partition = simNvs(the);
	double length = fxToNumber(the, mxArgv(1));
	uint32_t address = simNvsRange(the, partition, fxToNumber(the, mxArgv(0)), length);
	fxArrayBuffer(the, mxResult, C_NULL, (txInteger)length, -1);
	if (simFlashRead(gxBoard, address, fxToArrayBuffer(the, mxResult), (uint32_t)length))
		mxUnknownError("preference: flash error");
}

void xs_board_nvs_write(txMachine* the)
{
	const simPartition* partition = simNvs(the);
	void* data;
	txUnsigned length;
	uint32_t address;
	_xsmcGetBuffer(the, mxArgv(1), &data, &length, 0);
	address = simNvsRange(the, partition, fxToNumber(the, mxArgv(0)), length);
	if (simFlashWrite(gxBoard, address, data, length))
		mxUnknownError("preference: flash write failed (not erased?)");
}

void xs_board_nvs_erase(txMachine* the)
{
	const simPartition* partition = simNvs(the);
	double length = fxToNumber(the, mxArgv(1));
	uint32_t address = simNvsRange(the, partition, fxToNumber(the, mxArgv(0)), length);
	if (simFlashErase(gxBoard, address, (uint32_t)length))
		mxUnknownError("preference: flash erase failed (not sector-aligned?)");
}
