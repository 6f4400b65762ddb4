/*
 * Emulated NOR flash in a file: an erase sets a 4 KB sector to 0xFF, a write can only clear bits.
 * The layout comes from the binary partition table at 0x8000 (ESP-IDF's format, written by the provisioning
 * tool from partitions.csv). Every write and erase counts as one operation; with a power cut armed, the
 * operation after the cutAfter-th is torn (only its first bytes land) and the board resets.
 * It also counts, for benches and tests, the bytes read from each OTA slot and the erases of each sector
 * (simFlashStats), and forgets a slot's verification (board->verified) whenever the slot's bytes change.
 * Reads come from a read-only shared mapping of the file, populated when it is opened (a page fault costs this
 * machine's virtual CPUs about 10 us: 256 of them for 1 MiB read into fresh memory cost more than the hashing);
 * writes and erases go through the file descriptor, into the same page cache, so the mapping sees them at once.
 * Erases wait for the operation after them: a run of them, of consecutive sectors (up to SIM_PENDING_BYTES), waits
 * whole, and when a write inside the run follows (a download erases the sectors of a piece just before writing it),
 * the erases and the write reach the file in one pwrite, the run's 0xFF around the written bytes; anything else (a
 * write elsewhere, an erase that does not extend the run, any read, the process's exit) puts the run's 0xFF in the
 * file first. The file thus holds the flash as it stood after some operation, in order: a process killed before that
 * pwrite holds the state from before the run's erases, as if the power had gone a moment earlier, and one killed in
 * the middle of it (a write to a file may stop between pages) holds the run partly erased or the write partly done,
 * as a power cut in the middle of them leaves a real chip. Each still counts as one operation, and a power cut armed
 * for the write tears it over the erased sectors, as before.
 */
#include "board.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRY_MAGIC 0x50AA
#define MD5_MAGIC 0xEBEB

static uint32_t simLE32(const uint8_t* p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int simReadTable(simBoard* board, char* why, size_t whySize)
{
	uint8_t entry[32];
	uint32_t at;
	board->partitionCount = 0;
	for (at = SIM_PARTITION_TABLE; at < SIM_PARTITION_TABLE + 0xC00; at += 32) {
		uint16_t magic;
		simPartition* p;
		if (pread(board->fd, entry, 32, at) != 32)
			break;
		magic = (uint16_t)(entry[0] | (entry[1] << 8));
		if (magic != ENTRY_MAGIC)
			break; /* 0xFFFF ends the table; 0xEBEB is the MD5 entry that follows the last partition */
		if (board->partitionCount == SIM_MAX_PARTITIONS) {
			snprintf(why, whySize, "partition table: more than %d partitions", SIM_MAX_PARTITIONS);
			return -1;
		}
		p = &board->partitions[board->partitionCount++];
		p->type = entry[2];
		p->subtype = entry[3];
		p->offset = simLE32(entry + 4);
		p->size = simLE32(entry + 8);
		memcpy(p->label, entry + 12, 16);
		p->label[16] = 0;
		if ((p->offset % SIM_SECTOR) || (p->size % SIM_SECTOR) || (p->offset + p->size > board->size) || (p->offset + p->size < p->offset)) {
			snprintf(why, whySize, "partition table: %s is not sector-aligned or does not fit the flash", p->label);
			return -1;
		}
	}
	if (board->partitionCount == 0) {
		snprintf(why, whySize, "no partition table at 0x%x (provision the flash file first)", SIM_PARTITION_TABLE);
		return -1;
	}
	return 0;
}

/* The most erased bytes that wait for the next operation: a download's piece (16 KiB) and then some. */
#define SIM_PENDING_BYTES (64 * 1024)
/* The waiting run's bytes as they go into the file: 0xFF, and a write's bytes when one lands inside the run. */
static uint8_t gxPending[SIM_PENDING_BYTES];

/* Puts the waiting erases into the file. 0, or -1 when the file refuses the bytes. */
static int simFlashFlush(simBoard* board)
{
	uint32_t length = board->pendingEnd - board->pendingErase;
	if (!length)
		return 0;
	board->pendingEnd = board->pendingErase;
	memset(gxPending, 0xFF, length);
	return (pwrite(board->fd, gxPending, length, board->pendingErase) == (ssize_t)length) ? 0 : -1;
}

static simBoard* gxFlushed = NULL; /* the board whose waiting erase the process's exit puts in the file */

static void simFlashAtExit(void)
{
	if (gxFlushed)
		simFlashFlush(gxFlushed);
}

int simFlashOpen(simBoard* board, const char* path, char* why, size_t whySize)
{
	static int registered = 0;
	if (!registered)
		registered = !atexit(simFlashAtExit);
	if (gxFlushed)
		simFlashFlush(gxFlushed);
	gxFlushed = board;
	board->pendingErase = board->pendingEnd = 0;
	struct stat info;
	board->fd = open(path, O_RDWR);
	if (board->fd < 0) {
		snprintf(why, whySize, "cannot open flash file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(board->fd, &info) || (info.st_size < 0x10000) || (info.st_size % SIM_SECTOR) || (info.st_size > 0x4000000)) {
		snprintf(why, whySize, "flash file %s: size must be a multiple of 4 KB between 64 KB and 64 MB", path);
		return -1;
	}
	board->path = path;
	if (board->map)
		munmap((void*)board->map, board->size);
	board->size = (uint32_t)info.st_size;
	board->map = mmap(NULL, board->size, PROT_READ, MAP_SHARED | MAP_POPULATE, board->fd, 0);
	if (board->map == MAP_FAILED)
		board->map = NULL; /* reads go through the file descriptor */
	free(board->sectorErases);
	board->sectorErases = calloc(board->size / SIM_SECTOR, sizeof(uint32_t));
	if (!board->sectorErases) {
		snprintf(why, whySize, "flash file %s: out of memory for its counters", path);
		return -1;
	}
	return simReadTable(board, why, whySize);
}

const simPartition* simFindPartition(simBoard* board, uint8_t type, uint8_t subtype)
{
	int i;
	for (i = 0; i < board->partitionCount; i++) {
		if ((board->partitions[i].type == type) && (board->partitions[i].subtype == subtype))
			return &board->partitions[i];
	}
	return NULL;
}

const simPartition* simFindLabel(simBoard* board, const char* label)
{
	int i;
	for (i = 0; i < board->partitionCount; i++) {
		if (!strcmp(board->partitions[i].label, label))
			return &board->partitions[i];
	}
	return NULL;
}

const simPartition* simOtaSlot(simBoard* board, int index)
{
	if ((index < 0) || (index > 15))
		return NULL;
	return simFindPartition(board, SIM_TYPE_APP, (uint8_t)(SIM_SUBTYPE_OTA_0 + index));
}

/* As esp_ota_get_app_partition_count: ota_0, ota_1, ... up to the first one missing. */
int simOtaSlotCount(simBoard* board)
{
	int count = 0;
	while (simOtaSlot(board, count))
		count++;
	return count;
}

static int simInRange(simBoard* board, uint32_t address, uint32_t length)
{
	return (address <= board->size) && (length <= board->size - address);
}

/* Calls back for each OTA slot that [address, address + length) overlaps, with the overlap's length. */
static void simEachSlot(simBoard* board, uint32_t address, uint32_t length, void (*touch)(simBoard*, int, uint32_t))
{
	int i;
	for (i = 0; i < 16; i++) {
		const simPartition* slot = simOtaSlot(board, i);
		uint32_t from, to;
		if (!slot)
			break;
		from = (address > slot->offset) ? address : slot->offset;
		to = ((address + length) < (slot->offset + slot->size)) ? (address + length) : (slot->offset + slot->size);
		if (from < to)
			touch(board, i, to - from);
	}
}

static void simCountRead(simBoard* board, int slot, uint32_t bytes)
{
	if (board->inBootloader)
		board->bootReads[slot] += bytes;
	else
		board->slotReads[slot] += bytes;
}

static void simChanged(simBoard* board, int slot, uint32_t bytes)
{
	board->verified &= ~(1u << slot);
}

static void simCountErase(simBoard* board, int slot, uint32_t bytes)
{
	board->slotErases[slot]++;
}

void simFlashBootStarts(simBoard* board)
{
	memset(board->slotReads, 0, sizeof(board->slotReads));
	memset(board->bootReads, 0, sizeof(board->bootReads));
	memset(board->slotErases, 0, sizeof(board->slotErases));
	board->verified = 0;
}

void simFlashStats(simBoard* board)
{
	char reads[400], bootReads[400], erases[400], most[400];
	size_t r = 0, b = 0, e = 0, m = 0;
	int i;
	for (i = 0; i < 16; i++) {
		const simPartition* slot = simOtaSlot(board, i);
		uint32_t max = 0, at;
		const char* comma = i ? "," : "";
		if (!slot)
			break;
		for (at = slot->offset / SIM_SECTOR; board->sectorErases && (at < (slot->offset + slot->size) / SIM_SECTOR); at++) {
			if (board->sectorErases[at] > max)
				max = board->sectorErases[at];
		}
		r += (size_t)snprintf(reads + r, sizeof(reads) - r, "%s%llu", comma, board->slotReads[i]);
		b += (size_t)snprintf(bootReads + b, sizeof(bootReads) - b, "%s%llu", comma, board->bootReads[i]);
		e += (size_t)snprintf(erases + e, sizeof(erases) - e, "%s%ld", comma, board->slotErases[i]);
		m += (size_t)snprintf(most + m, sizeof(most) - m, "%s%u", comma, max);
	}
	simEvent(board, "flash-stats", "\"slot\":%d,\"reads\":[%s],\"bootReads\":[%s],\"erases\":[%s],\"maxSectorErases\":[%s],\"sector\":%u",
		board->running, reads, bootReads, erases, most, SIM_SECTOR);
}

int simFlashRead(simBoard* board, uint32_t address, void* data, uint32_t length)
{
	if (!simInRange(board, address, length) || simFlashFlush(board))
		return -1;
	simEachSlot(board, address, length, simCountRead);
	if (board->map) {
		memcpy(data, board->map + address, length);
		return 0;
	}
	return (pread(board->fd, data, length, address) == (ssize_t)length) ? 0 : -1;
}

const uint8_t* simFlashView(simBoard* board, uint32_t address, uint32_t length)
{
	if (!board->map || !simInRange(board, address, length) || simFlashFlush(board))
		return NULL;
	simEachSlot(board, address, length, simCountRead);
	return board->map + address;
}

static void simPowerCutCheck(simBoard* board, const char* kind, uint32_t address, uint32_t length, uint32_t* landed)
{
	board->ops++;
	*landed = length;
	if ((board->cutAfter >= 0) && !board->cutting && (board->ops > board->cutAfter)) {
		board->cutting = 1;
		*landed = (uint32_t)(length * board->tear);
		simEvent(board, "power-cut", "\"op\":%ld,\"kind\":\"%s\",\"address\":%u,\"length\":%u,\"landed\":%u,\"tear\":%g",
			board->ops, kind, address, length, *landed, board->tear);
	}
}

/* After the torn operation's bytes have landed: the power is gone, the board resets; the next cut, if any, waits. */
static void simPowerCutReset(simBoard* board)
{
	if (!board->cutting)
		return;
	board->cutting = 0;
	board->cuts++;
	board->cutAfter = (board->cuts < board->cutCount) ? board->cutOps[board->cuts] : -1;
	if (board->cuts < board->cutCount)
		board->tear = board->cutTears[board->cuts];
	simBoardReset("power-cut", "");
}

int simFlashErase(simBoard* board, uint32_t address, uint32_t length)
{
	static uint8_t blank[SIM_SECTOR];
	uint32_t at;
	if (!simInRange(board, address, length) || (address % SIM_SECTOR) || (length % SIM_SECTOR))
		return -1;
	memset(blank, 0xFF, sizeof(blank));
	for (at = address; at < address + length; at += SIM_SECTOR) {
		uint32_t landed;
		/* the run waits on when this sector extends it, and goes into the file first otherwise */
		int extends = (board->pendingEnd == at) && (board->pendingEnd - board->pendingErase < SIM_PENDING_BYTES);
		if (!extends && simFlashFlush(board))
			return -1;
		simEachSlot(board, at, SIM_SECTOR, simChanged);
		simEachSlot(board, at, SIM_SECTOR, simCountErase);
		if (board->sectorErases)
			board->sectorErases[at / SIM_SECTOR]++;
		simPowerCutCheck(board, "erase", at, SIM_SECTOR, &landed);
		if (!board->cutting) { /* whole: it waits for the next operation (simFlashFlush) */
			if (!extends)
				board->pendingErase = at;
			board->pendingEnd = at + SIM_SECTOR;
			continue;
		}
		if (simFlashFlush(board)) /* the erases before the torn one land first */
			return -1;
		if (landed && (pwrite(board->fd, blank, landed, at) != (ssize_t)landed))
			return -1;
		simPowerCutReset(board);
	}
	return 0;
}

int simFlashWrite(simBoard* board, uint32_t address, const void* data, uint32_t length)
{
	const uint8_t* bytes = data;
	uint8_t* merged;
	uint32_t i, landed;
	if (!simInRange(board, address, length))
		return -1;
	if (length == 0)
		return 0;
	if ((address >= board->pendingErase) && (address < board->pendingEnd) && (length <= board->pendingEnd - address)) {
		/* inside the sectors just erased: every bit is set, any bytes can be written; the erases and the write in one
		 * pwrite */
		uint32_t runAddress = board->pendingErase, runLength = board->pendingEnd - board->pendingErase;
		simEachSlot(board, address, length, simChanged);
		memset(gxPending, 0xFF, runLength);
		simPowerCutCheck(board, "write", address, length, &landed);
		memcpy(gxPending + (address - runAddress), bytes, landed);
		board->pendingEnd = board->pendingErase;
		if (pwrite(board->fd, gxPending, runLength, runAddress) != (ssize_t)runLength)
			return -1;
		simPowerCutReset(board);
		return 0;
	}
	if (simFlashFlush(board))
		return -1;
	simEachSlot(board, address, length, simChanged);
	merged = malloc(length);
	if (!merged)
		return -1;
	if (board->map) /* what the flash holds there now: the bits a write can only clear */
		memcpy(merged, board->map + address, length);
	else if (pread(board->fd, merged, length, address) != (ssize_t)length) {
		free(merged);
		return -1;
	}
	for (i = 0; i < length; i++) {
		if ((merged[i] & bytes[i]) != bytes[i]) {
			free(merged);
			return -2;
		}
		merged[i] &= bytes[i];
	}
	simPowerCutCheck(board, "write", address, length, &landed);
	if (landed && (pwrite(board->fd, merged, landed, address) != (ssize_t)landed)) {
		free(merged);
		return -1;
	}
	free(merged);
	simPowerCutReset(board);
	return 0;
}
