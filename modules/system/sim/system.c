/*
 * `system` on the simulated board: System.restart() resets the board through the bootloader; System.resetReason()
 * names the reset that started this boot. The same C serves
 * our sim host and Moddable's desktop simulator (lin); each target's glue implements simBoardReset.
 */
#include "xsmc.h"
#include "../../../hosts/sim/c/board/board.h" /* the sim board (flash, otadata, images), shared with lin */
#include <string.h>

void xs_system_restart(xsMachine* the)
{
	if (!simBoardCurrent())
		xsUnknownError("System.restart: no board here (run the firmware on `xsfota-sim board` or `xs-fota mcsim`)");
	simBoardReset("restart", "");
}

/* Why this boot happened, from the board's last reset: a power cut (or the first start) is "power-on". */
void xs_system_reset_reason(xsMachine* the)
{
	simBoard* board = simBoardCurrent();
	const char* reason = board ? board->resetReason : "";
	const char* cause = "unknown";
	if (!*reason || !strcmp(reason, "power-cut"))
		cause = "power-on";
	else if (!strcmp(reason, "restart") || !strcmp(reason, "mark-invalid"))
		cause = "software";
	else if (!strcmp(reason, "watchdog"))
		cause = "watchdog";
	else if (!strcmp(reason, "crash"))
		cause = "crash";
	xsmcSetString(xsResult, (char*)cause);
}
