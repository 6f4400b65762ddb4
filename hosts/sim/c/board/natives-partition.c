/* The sim board's natives behind `partition` (modules/partition/partition.ts), over flash.c and otadata.c. */
#include "../host.h"
#include "board.h"
#include <sodium.h>

extern txInteger _xsmcGetBuffer(txMachine* the, txSlot* slot, void** data, txUnsigned* count, txBoolean writable);

static simBoard* simBoardOf(txMachine* the, const char* what)
{
	if (!gxBoard)
		mxUnknownError("%s: no flash here (run the firmware on `xsfota-sim board`)", what);
	return gxBoard;
}

static void simSetSlot(txMachine* the, simBoard* board, int index)
{
	const simPartition* partition = simOtaSlot(board, index);
	txSlot* object;
	mxPush(mxObjectPrototype);
	fxNewObjectInstance(the);
	object = the->stack; /* mxPushSlot moves the stack before it reads its argument */
	mxPushStringC((txString)partition->label);
	mxPushSlot(object);
	fxSetID(the, fxID(the, "label"));
	mxPop();
	mxPushInteger(index);
	mxPushSlot(object);
	fxSetID(the, fxID(the, "index"));
	mxPop();
	mxPushNumber(partition->size);
	mxPushSlot(object);
	fxSetID(the, fxID(the, "size"));
	mxPop();
	mxPullSlot(mxResult);
}

/* The slot named by (index, label) arguments 0 and 1; only the inactive slot may be changed. */
static const simPartition* simTargetSlot(txMachine* the, simBoard* board, const char* what, int writable)
{
	char label[32];
	int index;
	const simPartition* partition;
	if (mxArgc < 2)
		mxTypeError("%s: expects a slot", what);
	index = fxToInteger(the, mxArgv(0));
	fxToStringBuffer(the, mxArgv(1), label, sizeof(label));
	partition = simOtaSlot(board, index);
	if (!partition || strcmp(partition->label, label))
		mxRangeError("%s: no OTA slot %d labelled %s", what, index, label);
	if (writable && (index == board->running))
		mxUnknownError("%s: %s is the running slot", what, label);
	return partition;
}

static uint32_t simRangeArgument(txMachine* the, const char* what, txSlot* slot, const char* name)
{
	double value = fxToNumber(the, slot);
	if (!(value >= 0) || (value != floor(value)) || (value > 0xFFFFFFFF))
		mxRangeError("%s: %s must be an integer >= 0", what, name);
	return (uint32_t)value;
}

void xs_partition_running(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.running");
	simSetSlot(the, board, board->running);
	mxPushStringC((txString)simOtaStateName(simOtaStateOf(board, board->running)));
	mxPushSlot(mxResult);
	fxSetID(the, fxID(the, "state"));
	mxPop();
}

/* As esp_ota_get_next_update_partition: the OTA slot after the running one, wrapping to ota_0. */
void xs_partition_next(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.next");
	int count = simOtaSlotCount(board);
	if (count < 2)
		mxUnknownError("Partition.next: the partition table has fewer than two OTA slots");
	simSetSlot(the, board, (board->running + 1) % count);
}

void xs_partition_erase(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.erase");
	const simPartition* partition = simTargetSlot(the, board, "Partition.erase", 1);
	uint32_t offset = simRangeArgument(the, "Partition.erase", mxArgv(2), "offset");
	uint32_t length = simRangeArgument(the, "Partition.erase", mxArgv(3), "length");
	if ((offset % SIM_SECTOR) || (length % SIM_SECTOR))
		mxRangeError("Partition.erase: offset and length must be multiples of %u", SIM_SECTOR);
	if ((offset > partition->size) || (length > partition->size - offset))
		mxRangeError("Partition.erase: %u bytes at %u do not fit %s", length, offset, partition->label);
	if (simFlashErase(board, partition->offset + offset, length))
		mxUnknownError("Partition.erase: flash error");
}

void xs_partition_write(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.write");
	const simPartition* partition = simTargetSlot(the, board, "Partition.write", 1);
	uint32_t offset = simRangeArgument(the, "Partition.write", mxArgv(2), "offset");
	void* data;
	txUnsigned length;
	int result;
	if (mxArgc < 4)
		mxTypeError("Partition.write: expects data");
	_xsmcGetBuffer(the, mxArgv(3), &data, &length, 0);
	if ((offset > partition->size) || ((uint32_t)length > partition->size - offset))
		mxRangeError("Partition.write: %d bytes at %u do not fit %s", (int)length, offset, partition->label);
	result = simFlashWrite(board, partition->offset + offset, data, (uint32_t)length);
	if (result == -2)
		mxUnknownError("Partition.write: %s at %u is not erased (NOR flash can only clear bits)", partition->label, offset);
	if (result)
		mxUnknownError("Partition.write: flash error");
}

void xs_partition_read(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.read");
	const simPartition* partition = simTargetSlot(the, board, "Partition.read", 0);
	uint32_t offset = simRangeArgument(the, "Partition.read", mxArgv(2), "offset");
	uint32_t length = simRangeArgument(the, "Partition.read", mxArgv(3), "length");
	if ((offset > partition->size) || (length > partition->size - offset))
		mxRangeError("Partition.read: %u bytes at %u do not fit %s", length, offset, partition->label);
	fxArrayBuffer(the, mxResult, C_NULL, (txInteger)length, -1);
	if (simFlashRead(board, partition->offset + offset, fxToArrayBuffer(the, mxResult), length))
		mxUnknownError("Partition.read: flash error");
}

/* As esp_ota_set_boot_partition: the image must verify before otadata changes. */
void xs_partition_activate(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.activate");
	const simPartition* partition = simTargetSlot(the, board, "Partition.activate", 0);
	char why[160];
	simImage* image = simImageLoad(board, fxToInteger(the, mxArgv(0)), why, sizeof(why));
	if (!image)
		mxUnknownError("Partition.activate: %s holds no valid image: %s", partition->label, why);
	simImageFree(image);
	if (simOtaSetBoot(board, fxToInteger(the, mxArgv(0))))
		mxUnknownError("Partition.activate: cannot write otadata");
}

void xs_partition_mark_valid(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.markValid");
	if (simOtaMarkValid(board))
		mxUnknownError("Partition.markValid: otadata has no active entry");
}

void xs_partition_mark_invalid_and_reboot(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.markInvalidAndReboot");
	char why[128];
	if (simOtaMarkInvalid(board, why, sizeof(why)))
		mxUnknownError("Partition.markInvalidAndReboot: %s", why);
	simBoardReset("mark-invalid", "");
}

void xs_system_restart(txMachine* the)
{
	simBoardOf(the, "System.restart");
	simBoardReset("restart", "");
}

/* sha256(index, label, length): the SHA-256 of the slot's first length bytes, hashed here in C as
 * esp_partition_get_sha256 does on the device, so that no image data passes through JS buffers. */
void xs_partition_sha256(txMachine* the)
{
	simBoard* board = simBoardOf(the, "Partition.sha256");
	const simPartition* partition = simTargetSlot(the, board, "Partition.sha256", 0);
	uint32_t length = simRangeArgument(the, "Partition.sha256", mxArgv(2), "length");
	crypto_hash_sha256_state state;
	unsigned char block[4096], digest[crypto_hash_sha256_BYTES];
	uint32_t at;
	if (length > partition->size)
		mxRangeError("Partition.sha256: %u bytes do not fit %s", length, partition->label);
	crypto_hash_sha256_init(&state);
	for (at = 0; at < length; at += sizeof(block)) {
		uint32_t size = (length - at < sizeof(block)) ? length - at : (uint32_t)sizeof(block);
		if (simFlashRead(board, partition->offset + at, block, size))
			mxUnknownError("Partition.sha256: flash error");
		crypto_hash_sha256_update(&state, block, size);
	}
	crypto_hash_sha256_final(&state, digest);
	fxArrayBuffer(the, mxResult, digest, (txInteger)sizeof(digest), -1);
}
