/*
 * `partition` on the simulated board: the OTA slots of the board's flash file (hosts/sim/c/board), with
 * ESP-IDF's otadata rules. The same C serves our sim host (platform xsfota-sim) and Moddable's desktop
 * simulator (platform lin), which both keep the flash in a file; each target's glue gives simBoardCurrent().
 * verify reads the slot once: the manifest's SHA-256 and the image check that activate would make, from the same
 * bytes. A slot it accepts is marked verified in RAM (board->verified); the board forgets that when the slot is
 * written, erased or invalidated, or at a reset. activate trusts the mark and reads nothing; without it, it loads
 * the image itself (fail closed).
 */
#include "xsmc.h"
#include "../../../hosts/sim/c/board/board.h" /* the sim board (flash, otadata, images), shared with lin */
#include <math.h>
#include <sodium.h>
#include <string.h>

static simBoard* boardOf(xsMachine* the, const char* what)
{
	simBoard* board = simBoardCurrent();
	if (!board)
		xsUnknownError("%s: no flash here (run the firmware on a board: `xsfota-sim board`, or `xs-fota mcsim`)", what);
	return board;
}

static void setSlot(xsMachine* the, simBoard* board, int index)
{
	const simPartition* partition = simOtaSlot(board, index);
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetString(xsVar(0), (char*)partition->label);
	xsmcSet(xsResult, xsID("label"), xsVar(0));
	xsmcSetInteger(xsVar(0), index);
	xsmcSet(xsResult, xsID("index"), xsVar(0));
	xsmcSetNumber(xsVar(0), partition->size);
	xsmcSet(xsResult, xsID("size"), xsVar(0));
}

/* The slot named by (index, label) arguments 0 and 1; only the inactive slot may be changed. */
static const simPartition* targetSlot(xsMachine* the, simBoard* board, const char* what, int writable, int* indexOut)
{
	char label[32];
	int index;
	const simPartition* partition;
	if (xsmcArgc < 2)
		xsTypeError("%s: expects a slot", what);
	index = xsmcToInteger(xsArg(0));
	xsmcToStringBuffer(xsArg(1), label, sizeof(label));
	partition = simOtaSlot(board, index);
	if (!partition || strcmp(partition->label, label))
		xsRangeError("%s: no OTA slot %d labelled %s", what, index, label);
	if (writable && (index == board->running))
		xsUnknownError("%s: %s is the running slot", what, label);
	if (indexOut)
		*indexOut = index;
	return partition;
}

static uint32_t rangeArgument(xsMachine* the, const char* what, int argument, const char* name)
{
	double value;
	if (xsmcArgc <= argument)
		xsTypeError("%s: expects %s", what, name);
	value = xsmcToNumber(xsArg(argument));
	if (!(value >= 0) || (value != floor(value)) || (value > 0xFFFFFFFF))
		xsRangeError("%s: %s must be an integer >= 0", what, name);
	return (uint32_t)value;
}

void xs_partition_running(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.running");
	setSlot(the, board, board->running);
	xsmcSetString(xsVar(0), (char*)simOtaStateName(simOtaStateOf(board, board->running)));
	xsmcSet(xsResult, xsID("state"), xsVar(0));
}

/* As esp_ota_get_next_update_partition: the OTA slot after the running one, wrapping to ota_0. */
void xs_partition_next(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.next");
	int count = simOtaSlotCount(board);
	if (count < 2)
		xsUnknownError("Partition.next: the partition table has fewer than two OTA slots");
	setSlot(the, board, (board->running + 1) % count);
}

void xs_partition_erase(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.erase");
	const simPartition* partition = targetSlot(the, board, "Partition.erase", 1, NULL);
	uint32_t offset = rangeArgument(the, "Partition.erase", 2, "offset");
	uint32_t length = rangeArgument(the, "Partition.erase", 3, "length");
	if ((offset % SIM_SECTOR) || (length % SIM_SECTOR))
		xsRangeError("Partition.erase: %s: offset %u and length %u must be multiples of %u", partition->label, offset, length, SIM_SECTOR);
	if ((offset > partition->size) || (length > partition->size - offset))
		xsRangeError("Partition.erase: %u bytes at %u do not fit %s", length, offset, partition->label);
	if (simFlashErase(board, partition->offset + offset, length))
		xsUnknownError("Partition.erase: %s at %u: flash error", partition->label, offset);
}

void xs_partition_write(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.write");
	const simPartition* partition = targetSlot(the, board, "Partition.write", 1, NULL);
	uint32_t offset = rangeArgument(the, "Partition.write", 2, "offset");
	void* data;
	xsUnsignedValue length;
	int result;
	if (xsmcArgc < 4)
		xsTypeError("Partition.write: expects data");
	xsmcGetBufferReadable(xsArg(3), &data, &length);
	if ((offset > partition->size) || ((uint32_t)length > partition->size - offset))
		xsRangeError("Partition.write: %u bytes at %u do not fit %s", (unsigned)length, offset, partition->label);
	result = simFlashWrite(board, partition->offset + offset, data, (uint32_t)length);
	if (result == -2)
		xsUnknownError("Partition.write: %s at %u is not erased (NOR flash can only clear bits)", partition->label, offset);
	if (result)
		xsUnknownError("Partition.write: %s at %u: flash error", partition->label, offset);
}

void xs_partition_read(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.read");
	const simPartition* partition = targetSlot(the, board, "Partition.read", 0, NULL);
	uint32_t offset = rangeArgument(the, "Partition.read", 2, "offset");
	uint32_t length = rangeArgument(the, "Partition.read", 3, "length");
	if ((offset > partition->size) || (length > partition->size - offset))
		xsRangeError("Partition.read: %u bytes at %u do not fit %s", length, offset, partition->label);
	xsmcSetArrayBuffer(xsResult, NULL, (xsIntegerValue)length);
	if (simFlashRead(board, partition->offset + offset, xsmcToArrayBuffer(xsResult), length))
		xsUnknownError("Partition.read: %s at %u: flash error", partition->label, offset);
}

/* invalidate(index, label): no otadata entry may select the slot once this returns. */
void xs_partition_invalidate(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.invalidate");
	int index, result;
	const simPartition* partition = targetSlot(the, board, "Partition.invalidate", 1, &index);
	board->verified &= ~(1u << index);
	result = simOtaInvalidateSlot(board, index);
	if (result < 0)
		xsUnknownError("Partition.invalidate: %s: cannot erase otadata", partition->label);
}

/* As esp_ota_set_boot_partition: the image must verify, and be of this board's kind, before otadata changes. */
void xs_partition_activate(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.activate");
	int index;
	const simPartition* partition = targetSlot(the, board, "Partition.activate", 0, &index);
	if (!(board->verified & (1u << index))) { /* not verified, or changed since: check it here */
		char why[160];
		simImage* image;
		simEvent(board, "activate-check", "\"slot\":%d", index);
		image = simImageLoad(board, index, why, sizeof(why));
		if (!image)
			xsUnknownError("Partition.activate: %s holds no valid image: %s", partition->label, why);
		simImageFree(image);
	}
	if (simOtaSetBoot(board, index))
		xsUnknownError("Partition.activate: %s: cannot write otadata", partition->label);
}

void xs_partition_mark_valid(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.markValid");
	if (simOtaMarkValid(board))
		xsUnknownError("Partition.markValid: otadata has no active entry");
}

void xs_partition_mark_invalid_and_reboot(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.markInvalidAndReboot");
	char why[128];
	if (simOtaMarkInvalid(board, why, sizeof(why)))
		xsUnknownError("Partition.markInvalidAndReboot: %s", why);
	simBoardReset("mark-invalid", "");
}

/* sha256(index, label, length): the SHA-256 of the slot's first length bytes, hashed here in C as
 * esp_partition_get_sha256 does on the device, so that no image data passes through JS buffers. */
void xs_partition_sha256(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.sha256");
	const simPartition* partition = targetSlot(the, board, "Partition.sha256", 0, NULL);
	uint32_t length = rangeArgument(the, "Partition.sha256", 2, "length");
	crypto_hash_sha256_state state;
	unsigned char block[4096], digest[crypto_hash_sha256_BYTES];
	uint32_t at;
	if (length > partition->size)
		xsRangeError("Partition.sha256: %u bytes do not fit %s", length, partition->label);
	crypto_hash_sha256_init(&state);
	for (at = 0; at < length; at += sizeof(block)) {
		uint32_t size = (length - at < sizeof(block)) ? length - at : (uint32_t)sizeof(block);
		if (simFlashRead(board, partition->offset + at, block, size))
			xsUnknownError("Partition.sha256: %s at %u: flash error", partition->label, at);
		crypto_hash_sha256_update(&state, block, size);
	}
	crypto_hash_sha256_final(&state, digest);
	xsmcSetArrayBuffer(xsResult, digest, (xsIntegerValue)sizeof(digest));
}

/* verify(index, label, length, sha256): one pass over the slot's first length bytes. undefined when their SHA-256 is
 * sha256 and the image would activate; otherwise {reason: "digest-mismatch" | "not-bootable", detail}. The digest is
 * judged first: bytes that are not the signed ones say nothing about the release. */
void xs_partition_verify(xsMachine* the)
{
	simBoard* board = boardOf(the, "Partition.verify");
	int index, result;
	const simPartition* partition = targetSlot(the, board, "Partition.verify", 0, &index);
	uint32_t length = rangeArgument(the, "Partition.verify", 2, "length");
	unsigned char digest[32], expected[32];
	char why[200], detail[300];
	void* data;
	xsUnsignedValue size;
	if (xsmcArgc < 4)
		xsTypeError("Partition.verify: expects a SHA-256");
	xsmcGetBufferReadable(xsArg(3), &data, &size);
	if (size != sizeof(expected))
		xsRangeError("Partition.verify: %s: the SHA-256 must be 32 bytes, not %u", partition->label, (unsigned)size);
	memcpy(expected, data, sizeof(expected));
	board->verified &= ~(1u << index);
	result = simImageVerify(board, index, length, digest, why, sizeof(why));
	if (result == -2)
		xsUnknownError("Partition.verify: %s: %s", partition->label, why);
	xsmcSetUndefined(xsResult);
	if (memcmp(digest, expected, sizeof(digest))) {
		snprintf(detail, sizeof(detail), "%s: the SHA-256 of its first %u bytes is not the signed one", partition->label, (unsigned)length);
		xsmcVars(1);
		xsmcSetNewObject(xsResult);
		xsmcSetString(xsVar(0), "digest-mismatch");
	}
	else if (result) {
		snprintf(detail, sizeof(detail), "%s holds no valid image: %s", partition->label, why);
		xsmcVars(1);
		xsmcSetNewObject(xsResult);
		xsmcSetString(xsVar(0), "not-bootable");
	}
	else {
		board->verified |= 1u << index;
		return;
	}
	xsmcSet(xsResult, xsID("reason"), xsVar(0));
	xsmcSetString(xsVar(0), detail);
	xsmcSet(xsResult, xsID("detail"), xsVar(0));
}
