/*
 * The board glue in Moddable's desktop simulator (mcsim, platform lin). The flash is a file laid out by
 * hosts/esp32/partitions.csv, read and written by the same board code as our sim host (hosts/sim/c/board):
 * flash.c's NOR rules, otadata.c's ESP-IDF encoding, image.c's headers. The launcher (`xs-fota mcsim`) is the
 * bootloader: it picks the slot by ESP-IDF's rules (bootloader.c, through `xsfota-sim boot`), extracts that slot's
 * mc.so and starts mcsim on it with
 *   XSFOTA_FLASH  the flash file          XSFOTA_SLOT  the OTA slot that booted
 *   XSFOTA_LOG    the JSON Lines event log (optional)   XSFOTA_BOOT  the boot's number, for the log (optional)
 *   XSFOTA_RESET  the reset that started this boot, as the board names it ("restart"; none at power-on)
 * A reset (System.restart, markInvalidAndReboot, the watchdog) logs `reboot` and ends mcsim with exit status
 * XSFOTA_RESET_EXIT; the launcher then boots again. Without XSFOTA_FLASH there is no board: the firmware then
 * finds no device config and says so.
 */
#include "../../sim/c/board/board.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The exit status of a reset, which the launcher (tools/sim/mcsim.ts, RESET_EXIT) relaunches on. */
#define XSFOTA_RESET_EXIT 75

static simBoard gxLinBoard;
static simBoard* gxLinCurrent = NULL;
static int gxLinTried = 0;
static pthread_mutex_t gxLinMutex = PTHREAD_MUTEX_INITIALIZER;

static long linNumber(const char* name, long fallback)
{
	const char* text = getenv(name);
	char* end;
	long value;
	if (!text || !*text)
		return fallback;
	value = strtol(text, &end, 10);
	if (*end || (value < 0)) {
		fprintf(stderr, "xs-fota lin board: %s must be a number >= 0, not %s\n", name, text);
		_exit(2);
	}
	return value;
}

simBoard* simBoardCurrent(void)
{
	pthread_mutex_lock(&gxLinMutex);
	if (!gxLinTried) {
		const char* flash = getenv("XSFOTA_FLASH");
		const char* log = getenv("XSFOTA_LOG");
		char why[256];
		simBoard* board = &gxLinBoard;
		gxLinTried = 1;
		if (flash && *flash) {
			memset(board, 0, sizeof(*board));
			board->kind = "lin";
			board->cutAfter = -1;
			board->lastRunning = -1;
			board->running = (int)linNumber("XSFOTA_SLOT", -1);
			board->boot = (int)linNumber("XSFOTA_BOOT", 1);
			snprintf(board->resetReason, sizeof(board->resetReason), "%s", getenv("XSFOTA_RESET") ? getenv("XSFOTA_RESET") : "");
			if (simFlashOpen(board, flash, why, sizeof(why))) {
				fprintf(stderr, "xs-fota lin board: %s\n", why);
				_exit(2);
			}
			if (!simOtaSlot(board, board->running)) {
				fprintf(stderr, "xs-fota lin board: XSFOTA_SLOT names no OTA slot of %s\n", flash);
				_exit(2);
			}
			if (log && *log && !(board->log = fopen(log, "a"))) {
				fprintf(stderr, "xs-fota lin board: cannot open log %s: %s\n", log, strerror(errno));
				_exit(2);
			}
			gxLinCurrent = board;
		}
	}
	pthread_mutex_unlock(&gxLinMutex);
	return gxLinCurrent;
}

void simBoardReset(const char* reason, const char* message)
{
	simBoard* board = simBoardCurrent();
	char text[1100];
	simJsonString(text, sizeof(text), message ? message : "");
	if (board) {
		if (!strcmp(reason, "watchdog"))
			simEvent(board, "watchdog", "\"slot\":%d,\"message\":%s", board->running, text);
		simEvent(board, "reboot", "\"reason\":\"%s\",\"slot\":%d%s%s", reason, board->running,
			(message && *message) ? ",\"message\":" : "", (message && *message) ? text : "");
		if (board->log)
			fclose(board->log);
	}
	fprintf(stderr, "xs-fota lin board: reset (%s)\n", reason);
	_exit(XSFOTA_RESET_EXIT); /* not exit(): mcsim's GTK main loop and atexit handlers must not run after a reset */
}
