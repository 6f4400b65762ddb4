/*
 * otadata as ESP-IDF keeps it: two 4 KB sectors, each starting with one esp_ota_select_entry_t.
 * The CRC covers the 4 bytes of ota_seq only, computed as esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4): the ROM's
 * reflected CRC-32 (polynomial 0xEDB88320) that inverts the given value on entry and the result on exit, so the
 * register starts at 0. The slot an entry selects is (ota_seq - 1) % number of OTA slots; the higher valid
 * ota_seq wins. The functions mirror bootloader_common_*.c and esp_ota_ops.c, written afresh from their rules.
 */
#include "board.h"
#include <string.h>

uint32_t simOtaCrc(uint32_t seq)
{
	uint8_t bytes[4] = { (uint8_t)seq, (uint8_t)(seq >> 8), (uint8_t)(seq >> 16), (uint8_t)(seq >> 24) };
	return simCrc32(UINT32_MAX, bytes, sizeof(bytes)); /* esp_rom_crc32_le(UINT32_MAX, &seq, 4) */
}

/* bootloader_common_ota_select_invalid: blank, INVALID or ABORTED (the CRC is not looked at) */
int simOtaEntryInvalid(const simOtaEntry* entry)
{
	return (entry->seq == UINT32_MAX) || (entry->state == SIM_OTA_INVALID) || (entry->state == SIM_OTA_ABORTED);
}

int simOtaEntryValid(const simOtaEntry* entry)
{
	return !simOtaEntryInvalid(entry) && (entry->crc == simOtaCrc(entry->seq));
}

/* bootloader_common_select_otadata: of the entries marked in valid[], the one with the max (or min) seq */
int simOtaSelect(const simOtaEntry entries[2], const int valid[2], int max)
{
	if (valid[0] && valid[1]) {
		uint32_t pick = max ? ((entries[0].seq > entries[1].seq) ? entries[0].seq : entries[1].seq)
			: ((entries[0].seq < entries[1].seq) ? entries[0].seq : entries[1].seq);
		return (pick == entries[0].seq) ? 0 : 1;
	}
	if (valid[0])
		return 0;
	if (valid[1])
		return 1;
	return -1;
}

static int simActive(const simOtaEntry entries[2])
{
	int valid[2] = { simOtaEntryValid(&entries[0]), simOtaEntryValid(&entries[1]) };
	return simOtaSelect(entries, valid, 1);
}

int simOtaRead(simBoard* board, simOtaEntry entries[2])
{
	const simPartition* otadata = simFindPartition(board, SIM_TYPE_DATA, SIM_SUBTYPE_DATA_OTA);
	if (!otadata || (otadata->size < 2 * SIM_SECTOR))
		return -1;
	if (simFlashRead(board, otadata->offset, &entries[0], sizeof(simOtaEntry)))
		return -1;
	return simFlashRead(board, otadata->offset + SIM_SECTOR, &entries[1], sizeof(simOtaEntry));
}

/* Erases the entry's sector, then writes the 32 bytes: two flash operations, as in ESP-IDF. */
int simOtaWrite(simBoard* board, int sector, const simOtaEntry* entry)
{
	const simPartition* otadata = simFindPartition(board, SIM_TYPE_DATA, SIM_SUBTYPE_DATA_OTA);
	uint32_t at;
	if (!otadata || (sector < 0) || (sector > 1))
		return -1;
	at = otadata->offset + (uint32_t)sector * SIM_SECTOR;
	if (simFlashErase(board, at, SIM_SECTOR))
		return -1;
	return simFlashWrite(board, at, entry, sizeof(simOtaEntry));
}

static int simRewrite(simBoard* board, simOtaEntry entries[2], int sector, uint32_t seq)
{
	entries[sector].seq = seq;
	entries[sector].crc = simOtaCrc(seq);
	return simOtaWrite(board, sector, &entries[sector]);
}

/* esp_ota_set_boot_partition for an OTA slot (esp_rewrite_ota_data), with rollback enabled: state NEW. */
int simOtaSetBoot(simBoard* board, int slot)
{
	simOtaEntry entries[2];
	int count = simOtaSlotCount(board), active, next;
	uint32_t seq;
	if ((slot < 0) || (slot >= count) || simOtaRead(board, entries))
		return -1;
	active = simActive(entries);
	if (active >= 0) {
		if ((int)((entries[active].seq - 1) % (uint32_t)count) == slot) {
			next = active;
			seq = entries[active].seq;
		}
		else {
			uint32_t base = (uint32_t)(slot + 1) % (uint32_t)count;
			next = active ^ 1;
			/* the smallest seq above the active one that selects the slot */
			seq = base;
			while (entries[active].seq > seq)
				seq += (uint32_t)count;
		}
	}
	else {
		next = 0;
		seq = (uint32_t)slot + 1;
	}
	entries[next].state = SIM_OTA_NEW;
	return simRewrite(board, entries, next, seq);
}

/* esp_ota_mark_app_valid_cancel_rollback: the active entry becomes VALID (no write when it already is). */
int simOtaMarkValid(simBoard* board)
{
	simOtaEntry entries[2];
	int active;
	if (simOtaRead(board, entries))
		return -1;
	active = simActive(entries);
	if (active < 0)
		return -1;
	if (entries[active].state == SIM_OTA_VALID)
		return 0;
	entries[active].state = SIM_OTA_VALID;
	return simRewrite(board, entries, active, entries[active].seq);
}

/* esp_ota_check_rollback_is_possible (no factory partition): the other entry is valid and its image loads. */
static int simRollbackPossible(simBoard* board, const simOtaEntry entries[2], int active)
{
	int other = active ^ 1, count = simOtaSlotCount(board);
	simImage* image;
	char why[128];
	if (!simOtaEntryValid(&entries[other]) || (count == 0))
		return 0;
	image = simImageLoad(board, (int)((entries[other].seq - 1) % (uint32_t)count), why, sizeof(why));
	if (!image)
		return 0;
	simImageFree(image);
	return 1;
}

/* esp_ota_mark_app_invalid_rollback: the active entry becomes INVALID, if another image can boot. */
int simOtaMarkInvalid(simBoard* board, char* why, size_t whySize)
{
	simOtaEntry entries[2];
	int active;
	if (simOtaRead(board, entries) || ((active = simActive(entries)) < 0)) {
		snprintf(why, whySize, "otadata has no active entry");
		return -1;
	}
	if (!simRollbackPossible(board, entries, active)) {
		snprintf(why, whySize, "rollback is not possible: no other valid image");
		return -1;
	}
	entries[active].state = SIM_OTA_INVALID;
	if (simRewrite(board, entries, active, entries[active].seq)) {
		snprintf(why, whySize, "cannot write otadata");
		return -1;
	}
	return 0;
}

/* Before a slot is rewritten: erases every otadata sector whose entry (CRC intact, not blank) selects the slot, as
 * esp_ota_invalidate_inactive_ota_data_slot does for the inactive entry. An INVALID or ABORTED entry cannot boot,
 * but it goes too: nothing about the old image should outlive it. Returns the sectors erased, -1 on error, -2 when
 * the slot is the running one. */
int simOtaInvalidateSlot(simBoard* board, int slot)
{
	const simPartition* otadata = simFindPartition(board, SIM_TYPE_DATA, SIM_SUBTYPE_DATA_OTA);
	simOtaEntry entries[2];
	int count = simOtaSlotCount(board), erased = 0, i;
	if (slot == board->running)
		return -2;
	if (!otadata || (count == 0) || simOtaRead(board, entries))
		return -1;
	for (i = 0; i < 2; i++) {
		if ((entries[i].seq == UINT32_MAX) || (entries[i].crc != simOtaCrc(entries[i].seq)))
			continue;
		if ((int)((entries[i].seq - 1) % (uint32_t)count) != slot)
			continue;
		if (simFlashErase(board, otadata->offset + (uint32_t)i * SIM_SECTOR, SIM_SECTOR))
			return -1;
		erased++;
	}
	return erased;
}

/* esp_ota_get_state_partition: the state of the first entry (CRC intact) that selects the slot; UNDEFINED if none. */
uint32_t simOtaStateOf(simBoard* board, int slot)
{
	simOtaEntry entries[2];
	int count = simOtaSlotCount(board), i;
	if ((count == 0) || simOtaRead(board, entries))
		return SIM_OTA_UNDEFINED;
	for (i = 0; i < 2; i++) {
		if (((int)((entries[i].seq - 1) % (uint32_t)count) == slot) && (entries[i].crc == simOtaCrc(entries[i].seq)))
			return entries[i].state;
	}
	return SIM_OTA_UNDEFINED;
}

const char* simOtaStateName(uint32_t state)
{
	switch (state) {
	case SIM_OTA_NEW: return "new";
	case SIM_OTA_PENDING_VERIFY: return "pending-verify";
	case SIM_OTA_VALID: return "valid";
	case SIM_OTA_INVALID: return "invalid";
	case SIM_OTA_ABORTED: return "aborted";
	default: return "undefined";
	}
}
