/* The simulated board: emulated NOR flash laid out by a partition table, ESP-IDF's otadata and bootloader
 * rules, sim images, faults (power cut, watchdog, crash) and the JSON Lines event log. */
#ifndef __SIM_BOARD__
#define __SIM_BOARD__

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_SECTOR 4096u
#define SIM_PARTITION_TABLE 0x8000u
#define SIM_MAX_PARTITIONS 16
#define SIM_MAX_CUTS 8

/* ESP-IDF's partition types and subtypes (esp_partition.h) */
#define SIM_TYPE_APP 0x00
#define SIM_TYPE_DATA 0x01
#define SIM_SUBTYPE_OTA_0 0x10
#define SIM_SUBTYPE_DATA_OTA 0x00
#define SIM_SUBTYPE_DATA_NVS 0x02

/* ESP-IDF's esp_ota_img_states_t */
#define SIM_OTA_NEW 0x0u
#define SIM_OTA_PENDING_VERIFY 0x1u
#define SIM_OTA_VALID 0x2u
#define SIM_OTA_INVALID 0x3u
#define SIM_OTA_ABORTED 0x4u
#define SIM_OTA_UNDEFINED 0xFFFFFFFFu

typedef struct {
	char label[17];
	uint8_t type;
	uint8_t subtype;
	uint32_t offset;
	uint32_t size;
} simPartition;

/* esp_ota_select_entry_t: 32 bytes, little-endian on the ESP32 as on the sim's hosts */
typedef struct {
	uint32_t seq;
	uint8_t label[20];
	uint32_t state;
	uint32_t crc;
} simOtaEntry;

typedef struct simImage simImage;

typedef struct {
	int fd;
	const uint8_t* map;     /* the flash file mapped for reading (writes go through fd: the page cache is one), or NULL */
	uint32_t pendingErase;  /* the last erases, of the sectors from pendingErase up to pendingEnd, are not in the file */
	uint32_t pendingEnd;    /* yet (flash.c); pendingEnd == pendingErase: none waits */
	const char* path;
	const char* kind;       /* the image kind this board boots: "sim" (our host) or "lin" (mcsim) */
	uint32_t size;
	simPartition partitions[SIM_MAX_PARTITIONS];
	int partitionCount;
	long ops;               /* flash writes and erases so far, bootloader's included */
	long cutAfter;          /* the next power cut: during operation cutAfter + 1; -1 for none */
	double tear;            /* fraction of that operation's bytes that reach the flash */
	int cutting;            /* the power is going: the cut operation's bytes have landed, the reset follows */
	int cuts;               /* power cuts so far */
	int cutCount;           /* the cuts asked for (--power-cut-after N[,M...]), in order of their operations */
	long cutOps[SIM_MAX_CUTS];
	double cutTears[SIM_MAX_CUTS];
	FILE* log;
	int boot;               /* boots so far, 1 for the first */
	int running;            /* OTA slot that booted, -1 before */
	int lastRunning;        /* slot of the previous boot, -1 for none */
	simImage* image;        /* the booted image */
	double wdtDeadline;     /* monotonic ms; 0 when disarmed */
	double wdtTimeout;
	double wdtDefault;      /* --wdt-ms: the watchdog armed at boot, 0 for none */
	jmp_buf reset;          /* every reset jumps here */
	char resetReason[32];   /* the reason of the reset that started this boot ("restart", "power-cut", ...); "" at power-on */
	char resetMessage[1024];
	/* What the flash went through, for benches and tests (flash.c; logged as "flash-stats" at every reset and at
	 * halt). Per boot, reset by the bootloader: bytes read from each OTA slot by the firmware (slotReads) and by the
	 * bootloader (bootReads), sector erases in each slot (slotErases). Since the board started: erases of each
	 * flash sector (sectorErases, one counter per 4 KB). */
	unsigned long long slotReads[SIM_MAX_PARTITIONS];
	unsigned long long bootReads[SIM_MAX_PARTITIONS];
	long slotErases[SIM_MAX_PARTITIONS];
	uint32_t* sectorErases;
	int inBootloader;       /* reads now are the bootloader's */
	/* OTA slots (bit n for ota_n) whose image Partition.verify accepted during this boot, not written, erased or
	 * invalidated since: their activation need not read them again. RAM only: a reset forgets it. */
	uint32_t verified;
} simBoard;

extern simBoard* gxBoard; /* NULL unless the host runs as `xsfota-sim board` */

/* Given by each target's glue (board.c in our host, hosts/lin/c/board-lin.c in mcsim):
 * the board the firmware runs on, or NULL (plain host mode), and its reset, which never returns. */
extern simBoard* simBoardCurrent(void);

/* timer.c, our sim host only: the watchdog's deadline (timeoutMs > 0 arms, < 0 feeds, 0 disarms) */
extern void simWatchdogSet(void* the, double timeoutMs);

/* crc32.c: the one CRC-32 of our C; zlib's convention (crc 0 to start) */
extern uint32_t simCrc32(uint32_t crc, const void* data, uint32_t length);

/* flash.c */
extern int simFlashOpen(simBoard* board, const char* path, char* why, size_t whySize);
extern const simPartition* simFindPartition(simBoard* board, uint8_t type, uint8_t subtype);
extern const simPartition* simFindLabel(simBoard* board, const char* label);
extern const simPartition* simOtaSlot(simBoard* board, int index);
extern int simOtaSlotCount(simBoard* board);
extern int simFlashRead(simBoard* board, uint32_t address, void* data, uint32_t length);
/* [address, address + length) to read in place, counted as read as simFlashRead counts; valid until the next write
 * or erase there. NULL when out of range or when the flash is not mapped (then simFlashRead it). */
extern const uint8_t* simFlashView(simBoard* board, uint32_t address, uint32_t length);
/* 0 on success; -1 when out of range or misaligned; -2 when a write would have to set a bit (NOR) */
extern int simFlashErase(simBoard* board, uint32_t address, uint32_t length);
extern int simFlashWrite(simBoard* board, uint32_t address, const void* data, uint32_t length);
/* logs "flash-stats": this boot's reads and erases of each OTA slot, and the most erases of any sector of each slot
 * since the board started */
extern void simFlashStats(simBoard* board);
/* a new boot: the per-boot counters start again, and every verification is forgotten */
extern void simFlashBootStarts(simBoard* board);

/* otadata.c: ESP-IDF's otadata encoding and rules */
extern uint32_t simOtaCrc(uint32_t seq);
extern int simOtaEntryInvalid(const simOtaEntry* entry);
extern int simOtaEntryValid(const simOtaEntry* entry);
extern int simOtaSelect(const simOtaEntry entries[2], const int valid[2], int max);
extern int simOtaRead(simBoard* board, simOtaEntry entries[2]);
extern int simOtaWrite(simBoard* board, int sector, const simOtaEntry* entry);
extern int simOtaSetBoot(simBoard* board, int slot);
extern int simOtaMarkValid(simBoard* board);
extern int simOtaMarkInvalid(simBoard* board, char* why, size_t whySize);
extern uint32_t simOtaStateOf(simBoard* board, int slot);
extern int simOtaInvalidateSlot(simBoard* board, int slot);
extern const char* simOtaStateName(uint32_t state);

/* image.c. The header's bytes 112..119 name the image's kind, NUL-padded ASCII; all zeros is "sim". A "sim"
 * image's body holds module records; a "lin" image's body is the mc.so that mcconfig built. A board loads only
 * images of its own kind. */
#define SIM_IMAGE_HEADER 128u
extern simImage* simImageLoad(simBoard* board, int slot, char* why, size_t whySize);
/* One pass over the slot's first max(length, image size) bytes: the SHA-256 of the first length bytes into digest,
 * and from the same reads the check simImageLoad makes. 0: the image loads; -1: it does not (why says why);
 * -2: the flash could not be read or length does not fit the slot (why). */
extern int simImageVerify(simBoard* board, int slot, uint32_t length, uint8_t digest[32], char* why, size_t whySize);
extern void simImageFree(simImage* image);
extern const char* simImageEntry(simImage* image);
extern const char* simImageVersion(simImage* image);
extern const char* simImageKind(simImage* image);
/* the body (for a "lin" image, the mc.so) */
extern const uint8_t* simImageBody(simImage* image, uint32_t* length);
/* the module's name for a bare specifier or a name, or NULL */
extern const char* simImageResolve(simImage* image, const char* specifier);
extern const uint8_t* simImageSource(simImage* image, const char* name, uint32_t* length);

/* SHA-256 for the image checks: libsodium's (weak definitions in image.c, what the desktop simulator's build links);
 * the sim host links OpenSSL's instead (hosts/sim/c/board-digest.c), which uses the CPU's SHA instructions, as an ESP32
 * hashes in its SHA accelerator. simSha256Start returns NULL when out of memory; simSha256Finish frees the state. */
typedef struct simSha256 simSha256;
extern simSha256* simSha256Start(void);
extern void simSha256Update(simSha256* state, const void* data, size_t length);
extern void simSha256Finish(simSha256* state, uint8_t digest[32]);

/* bootloader.c: the OTA slot to boot, or -1 when nothing is bootable */
extern int simBootSelect(simBoard* board);

/* events.c */
extern void simEvent(simBoard* board, const char* type, const char* format, ...) __attribute__((format(printf, 3, 4)));
extern void simJsonString(char* out, size_t size, const char* text);

/* board.c: resets the board through the bootloader; reason is "restart", "crash", "watchdog", ... */
extern void simBoardReset(const char* reason, const char* message) __attribute__((noreturn));

#endif
