/*
 * xsfota-sim board: the simulated ESP32. Each boot runs the bootloader on the flash file, creates an XS machine
 * that loads its modules from the booted slot's sim image, and runs the image's entry module. Every reset
 * (System.restart, markInvalidAndReboot, watchdog, crash, power cut) deletes the machine and boots again in the
 * same process; the flash file keeps what was written. When the firmware's event loop empties, the board halts.
 */
#include "../host.h"
#include "board.h"
#include <stdlib.h>
#include <unistd.h>

simBoard* gxBoard = NULL;

/* Weak: in xsfota-lin (TARGET=lin) the desktop simulator's glue, hosts/lin/c/board-lin.c, stands in. */
__attribute__((weak)) simBoard* simBoardCurrent(void)
{
	return gxBoard;
}
static simBoard gxTheBoard;
static simHost gxBoardHost;
static txMachine* gxBoardMachine = NULL;

#define METER_STEP 10000

static void simBoardUsage(void)
{
	fprintf(stderr,
		"usage: xsfota-sim board --flash FILE [--log events.jsonl] [--power-cut-after N[,M...]] [--max-boots N] [--wdt-ms MS] [--tight-heap]\n"
		"  --flash FILE          flash file made by the provisioning tool (node build/js/tools/sim/cli.js provision)\n"
		"  --log FILE            append the board's events as JSON Lines\n"
		"  --power-cut-after N[,M...]  cut the power during flash operation N + 1 (writes and erases, bootloader's\n"
		"                        included, counted from the start of the run), then during M + 1, ... (up to 8 cuts);\n"
		"                        also XSFOTA_POWER_CUT_AFTER; XSFOTA_POWER_CUT_TEAR T[,U...] (0..1, default 0.5) is the\n"
		"                        share of each torn operation's bytes that reach the flash\n"
		"  --max-boots N         stop after N boots (default 16), exit status 4\n"
		"  --wdt-ms MS           the task watchdog on the main loop: a turn longer than MS resets the board\n"
		"  --tight-heap          grow the XS heap in small steps after collections: peaks then measure live memory\n"
		"exit status: 0 halted (event loop empty), 3 bricked, 4 too many boots, 2 usage or flash file errors\n");
}

__attribute__((weak)) void simBoardReset(const char* reason, const char* message)
{
	char text[1100];
	simBoard* board = gxBoard;
	simJsonString(text, sizeof(text), message ? message : "");
	simFlashStats(board);
	if (!strcmp(reason, "watchdog"))
		simEvent(board, "watchdog", "\"slot\":%d,\"message\":%s", board->running, text);
	simEvent(board, "reboot", "\"reason\":\"%s\",\"slot\":%d%s%s", reason, board->running, (message && *message) ? ",\"message\":" : "",
		(message && *message) ? text : "");
	snprintf(board->resetReason, sizeof(board->resetReason), "%s", reason);
	longjmp(board->reset, 1);
}

static void simBoardFatal(txMachine* the, const char* what, const char* message)
{
	char text[1024];
	snprintf(text, sizeof(text), "%s: %s", what, message);
	fprintf(stderr, "xsfota-sim board: crash: %s\n", text);
	simBoardReset("crash", text);
}

static void simBoardDeadline(txMachine* the)
{
	simBoardReset("watchdog", "the watchdog was not fed in time");
}

/* Called by the engine every METER_STEP instructions: catches busy loops that never return to the event loop. */
static txBoolean simBoardMeter(txMachine* the, txU4 index)
{
	simHost* host = mxHost(the);
	double now = simNow();
	if ((host->deadline > 0) && (now >= host->deadline))
		simBoardDeadline(the);
	if ((gxBoard->wdtDefault > 0) && (host->turnStart > 0) && (now - host->turnStart > gxBoard->wdtDefault))
		simBoardReset("watchdog", "task watchdog: the main loop did not return in time");
	return 1;
}

static void simBoardTeardown(simBoard* board)
{
	if (gxBoardMachine) {
		gxBoardHost.timers = NULL; /* their memory goes with the machine's destructors */
		simHttpReset();
		fxDeleteMachine(gxBoardMachine);
		gxBoardMachine = NULL;
		simFreeModuleCode(&gxBoardHost);
	}
	simImageFree(board->image);
	board->image = NULL;
}

/* Runs the booted image until its event loop empties. Resets leave through longjmp instead. */
static void simBoardRun(simBoard* board)
{
	txMachine* the;
	memset(&gxBoardHost, 0, sizeof(gxBoardHost));
	gxBoardHost.image = board->image;
	gxBoardHost.onFatal = simBoardFatal;
	gxBoardHost.onDeadline = simBoardDeadline;
	the = gxBoardMachine = simCreateMachine(&gxBoardHost);
	if (!the) {
		fprintf(stderr, "xsfota-sim board: cannot create the XS machine\n");
		exit(1);
	}
	fxBeginHost(the);
	{
		simInstallGlobals(the);
		simInstallNatives(the);
		fxBeginMetering(the, simBoardMeter, METER_STEP);
		mxTry(the) {
			simStartEntry(the, simImageEntry(board->image), 0);
		}
		mxCatch(the) {
			simFatal(the, "cannot start", &mxException);
		}
		simRunLoop(the);
	}
	fxEndHost(the);
}

static long simNumberOption(const char* name, const char* text)
{
	char* end;
	long value = strtol(text, &end, 10);
	if (!*text || *end || (value < 0)) {
		fprintf(stderr, "xsfota-sim board: %s needs a number >= 0, got %s\n", name, text);
		exit(2);
	}
	return value;
}

/* The power cuts: cuts "N[,M...]" (flash operations, counted from the start of the run, in increasing order),
 * tears "T[,U...]" (the share of each cut operation's bytes that land, 0..1; the last one repeats; 0.5 by default). */
static int simPowerCuts(simBoard* board, const char* cuts, const char* tears)
{
	int i;
	board->cutAfter = -1;
	board->tear = 0.5;
	board->cutCount = 0;
	for (i = 0; cuts && *cuts; i++) {
		char* end;
		long op = strtol(cuts, &end, 10);
		if ((i >= SIM_MAX_CUTS) || (end == cuts) || (op < 0) || (*end && (*end != ',')) || (i && (op <= board->cutOps[i - 1]))) {
			fprintf(stderr, "xsfota-sim board: --power-cut-after needs up to %d increasing numbers >= 0, separated by commas\n", SIM_MAX_CUTS);
			return -1;
		}
		board->cutOps[i] = op;
		board->cutTears[i] = 0.5;
		board->cutCount = i + 1;
		cuts = *end ? end + 1 : end;
	}
	for (i = 0; tears && *tears; i++) {
		char* end;
		double tear = strtod(tears, &end);
		if ((end == tears) || !(tear >= 0 && tear <= 1) || (*end && (*end != ','))) {
			fprintf(stderr, "xsfota-sim board: XSFOTA_POWER_CUT_TEAR needs numbers from 0 to 1, separated by commas\n");
			return -1;
		}
		for (int j = i; j < SIM_MAX_CUTS; j++)
			board->cutTears[j] = tear; /* the last one given repeats */
		tears = *end ? end + 1 : end;
	}
	if (board->cutCount) {
		board->cutAfter = board->cutOps[0];
		board->tear = board->cutTears[0];
	}
	return 0;
}

int simBoardMain(int argc, char* argv[])
{
	simBoard* board = &gxTheBoard;
	const char* flash = NULL;
	const char* logPath = NULL;
	const char* cuts = NULL;
	const char* tears = NULL;
	char why[256];
	static long maxBoots;
	int i;
	memset(board, 0, sizeof(*board));
	maxBoots = 16;
	board->running = board->lastRunning = -1;
	board->kind = "sim";
	cuts = getenv("XSFOTA_POWER_CUT_AFTER");
	tears = getenv("XSFOTA_POWER_CUT_TEAR");
	for (i = 1; i < argc; i++) {
		int more = i + 1 < argc;
		if (!strcmp(argv[i], "--flash") && more)
			flash = argv[++i];
		else if (!strcmp(argv[i], "--log") && more)
			logPath = argv[++i];
		else if (!strcmp(argv[i], "--power-cut-after") && more)
			cuts = argv[++i];
		else if (!strcmp(argv[i], "--max-boots") && more)
			maxBoots = simNumberOption(argv[i], argv[i + 1]), i++;
		else if (!strcmp(argv[i], "--tight-heap"))
			gxTightHeap = 1;
		else if (!strcmp(argv[i], "--wdt-ms") && more)
			board->wdtDefault = (double)simNumberOption(argv[i], argv[i + 1]), i++;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			simBoardUsage();
			return 0;
		}
		else {
			fprintf(stderr, "xsfota-sim board: unexpected argument %s\n", argv[i]);
			simBoardUsage();
			return 2;
		}
	}
	if (!flash) {
		simBoardUsage();
		return 2;
	}
	if (simPowerCuts(board, cuts, tears))
		return 2;
	if (logPath && !(board->log = fopen(logPath, "a"))) {
		fprintf(stderr, "xsfota-sim board: cannot open log %s: %s\n", logPath, strerror(errno));
		return 2;
	}
	if (simFlashOpen(board, flash, why, sizeof(why))) {
		fprintf(stderr, "xsfota-sim board: %s\n", why);
		return 2;
	}
	gxBoard = board;
	for (;;) {
		int slot;
		if (setjmp(board->reset)) {
			simBoardTeardown(board);
			board->lastRunning = board->running;
			board->running = -1;
			continue;
		}
		if (board->boot >= maxBoots) {
			simEvent(board, "max-boots", "\"boots\":%d", board->boot);
			fprintf(stderr, "xsfota-sim board: stopped after %d boots (--max-boots)\n", board->boot);
			return 4;
		}
		board->boot++;
		slot = simBootSelect(board);
		if (slot < 0) {
			fprintf(stderr, "xsfota-sim board: bricked: no bootable image\n");
			return 3;
		}
		board->running = slot;
		{
			char version[80];
			simJsonString(version, sizeof(version), simImageVersion(board->image));
			simEvent(board, "boot", "\"slot\":%d,\"label\":\"%s\",\"version\":%s,\"state\":\"%s\"", slot,
				simOtaSlot(board, slot)->label, version, simOtaStateName(simOtaStateOf(board, slot)));
		}
		simBoardRun(board);
		simFlashStats(board);
		simEvent(board, "halt", "\"slot\":%d", slot);
		simBoardTeardown(board);
		return 0;
	}
}

/*
 * xsfota-sim boot --flash FILE --kind KIND [--log FILE] [--boot N] [--last-slot N]: one pass of the bootloader
 * (bootloader.c) for a board whose firmware runs elsewhere, as the launcher of Moddable's desktop simulator
 * (`xs-fota mcsim`) needs: it picks the slot by ESP-IDF's rules, loads only images of KIND, writes otadata as
 * the bootloader does, logs `boot` (and any `rollback`), and prints {"slot","label","version","state"} as JSON.
 * --last-slot is the slot that ran before this boot, so that a rollback is logged with its reason.
 * Exit status: 0 booted, 3 bricked, 2 usage or flash file errors.
 */
int simBootMain(int argc, char* argv[])
{
	simBoard* board = &gxTheBoard;
	const char* flash = NULL;
	const char* logPath = NULL;
	char why[256], version[80];
	int i, slot;
	memset(board, 0, sizeof(*board));
	board->cutAfter = -1;
	board->running = board->lastRunning = -1;
	board->boot = 1;
	for (i = 1; i < argc; i++) {
		int more = i + 1 < argc;
		if (!strcmp(argv[i], "--flash") && more)
			flash = argv[++i];
		else if (!strcmp(argv[i], "--kind") && more)
			board->kind = argv[++i];
		else if (!strcmp(argv[i], "--log") && more)
			logPath = argv[++i];
		else if (!strcmp(argv[i], "--boot") && more)
			board->boot = (int)simNumberOption(argv[i], argv[i + 1]), i++;
		else if (!strcmp(argv[i], "--last-slot") && more)
			board->lastRunning = (int)simNumberOption(argv[i], argv[i + 1]), i++;
		else {
			fprintf(stderr, "usage: xsfota-sim boot --flash FILE --kind KIND [--log FILE] [--boot N] [--last-slot N]\n");
			return 2;
		}
	}
	if (!flash || !board->kind) {
		fprintf(stderr, "usage: xsfota-sim boot --flash FILE --kind KIND [--log FILE] [--boot N] [--last-slot N]\n");
		return 2;
	}
	if (logPath && !(board->log = fopen(logPath, "a"))) {
		fprintf(stderr, "xsfota-sim boot: cannot open log %s: %s\n", logPath, strerror(errno));
		return 2;
	}
	if (simFlashOpen(board, flash, why, sizeof(why))) {
		fprintf(stderr, "xsfota-sim boot: %s\n", why);
		return 2;
	}
	gxBoard = board;
	slot = simBootSelect(board);
	if (slot < 0) {
		fprintf(stderr, "xsfota-sim boot: bricked: no bootable %s image\n", board->kind);
		return 3;
	}
	board->running = slot;
	simJsonString(version, sizeof(version), simImageVersion(board->image));
	simEvent(board, "boot", "\"slot\":%d,\"label\":\"%s\",\"version\":%s,\"state\":\"%s\"", slot,
		simOtaSlot(board, slot)->label, version, simOtaStateName(simOtaStateOf(board, slot)));
	printf("{\"slot\":%d,\"label\":\"%s\",\"version\":%s,\"state\":\"%s\"}\n", slot, simOtaSlot(board, slot)->label, version,
		simOtaStateName(simOtaStateOf(board, slot)));
	simImageFree(board->image);
	board->image = NULL;
	return 0;
}
