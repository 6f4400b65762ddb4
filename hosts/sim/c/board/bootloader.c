/*
 * The second-stage bootloader's choice of app, as ESP-IDF makes it with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
 * and no factory partition (bootloader_utility_get_selected_boot_partition and bootloader_utility_load_boot_image):
 *  1. every entry still PENDING_VERIFY becomes ABORTED (its image reset before it was confirmed);
 *  2. if both entries are blank, INVALID or ABORTED, try ota_0; otherwise the valid entry with the higher seq
 *     selects slot (seq - 1) % slots, and NEW becomes PENDING_VERIFY; with no valid entry, try every slot;
 *  3. load the selected slot's image; if it does not load, try the slots below it, then the ones above;
 *  4. booting with otadata blank or corrupt writes otadata[0] = { seq slot + 1, VALID }.
 * Nothing loadable: the board is bricked.
 * A boot starts the flash's per-boot counters again and forgets every verification (RAM does not survive a reset);
 * the bootloader's reads are counted apart from the firmware's.
 */
#include "board.h"
#include <string.h>

static int simTryLoad(simBoard* board, int slot)
{
	char why[160];
	simImage* image = simImageLoad(board, slot, why, sizeof(why));
	const simPartition* partition = simOtaSlot(board, slot);
	if (!image) {
		char text[200];
		simJsonString(text, sizeof(text), why);
		simEvent(board, "image-invalid", "\"slot\":%d,\"label\":\"%s\",\"reason\":%s", slot, partition ? partition->label : "?", text);
		return 0;
	}
	board->image = image;
	return 1;
}

static int simInitialOrCorrupt(const simOtaEntry* entry)
{
	return (entry->seq == UINT32_MAX) || (entry->crc != simOtaCrc(entry->seq));
}

static int simBootChoose(simBoard* board)
{
	simOtaEntry entries[2];
	int count = simOtaSlotCount(board), start = -1, initial = 0, i, slot;
	int aborted[2] = { -1, -1 };
	if ((count == 0) || simOtaRead(board, entries)) {
		simEvent(board, "bricked", "\"reason\":\"no OTA slots or no otadata partition\"");
		return -1;
	}
	for (i = 0; i < 2; i++) {
		if (entries[i].state == SIM_OTA_PENDING_VERIFY) {
			entries[i].state = SIM_OTA_ABORTED;
			simOtaWrite(board, i, &entries[i]);
			aborted[i] = (int)((entries[i].seq - 1) % (uint32_t)count);
		}
	}
	if (simOtaEntryInvalid(&entries[0]) && simOtaEntryInvalid(&entries[1])) {
		start = 0;
		initial = simInitialOrCorrupt(&entries[0]) && simInitialOrCorrupt(&entries[1]);
	}
	else {
		int valid[2] = { simOtaEntryValid(&entries[0]), simOtaEntryValid(&entries[1]) };
		int active = simOtaSelect(entries, valid, 1);
		if (active >= 0) {
			start = (int)((entries[active].seq - 1) % (uint32_t)count);
			if (entries[active].state == SIM_OTA_NEW) {
				entries[active].state = SIM_OTA_PENDING_VERIFY;
				simOtaWrite(board, active, &entries[active]);
			}
		}
		else
			start = -1; /* no factory app: "will try all partitions" */
	}
	slot = -1;
	for (i = start; (i >= 0) && (slot < 0); i--) {
		if (simTryLoad(board, i))
			slot = i;
	}
	for (i = start + 1; (i < count) && (slot < 0); i++) {
		if (simTryLoad(board, i))
			slot = i;
	}
	if (slot < 0) {
		simEvent(board, "bricked", "\"reason\":\"no bootable app in any OTA slot\"");
		return -1;
	}
	if (initial) {
		simOtaEntry entry;
		memset(&entry, 0xFF, sizeof(entry));
		entry.seq = (uint32_t)slot + 1;
		entry.state = SIM_OTA_VALID;
		entry.crc = simOtaCrc(entry.seq);
		simOtaWrite(board, 0, &entry);
	}
	for (i = 0; i < 2; i++) {
		if ((aborted[i] >= 0) && (aborted[i] != slot))
			simEvent(board, "rollback", "\"from\":%d,\"to\":%d,\"reason\":\"aborted\"", aborted[i], slot);
	}
	if ((board->lastRunning >= 0) && (board->lastRunning != slot) && (aborted[0] != board->lastRunning) && (aborted[1] != board->lastRunning)) {
		uint32_t state = simOtaStateOf(board, board->lastRunning);
		if ((state == SIM_OTA_INVALID) || (state == SIM_OTA_ABORTED))
			simEvent(board, "rollback", "\"from\":%d,\"to\":%d,\"reason\":\"%s\"", board->lastRunning, slot, simOtaStateName(state));
	}
	return slot;
}

int simBootSelect(simBoard* board)
{
	int slot;
	simFlashBootStarts(board);
	board->inBootloader = 1;
	slot = simBootChoose(board);
	board->inBootloader = 0;
	return slot;
}
