/*
 * `watchdog` in our sim host: the deadline is the host's (hosts/sim/c/timer.c), checked by the event loop and by
 * the engine's metering, so that a busy loop cannot hide from it. On a board an expiry resets the board through
 * the bootloader (logged as `watchdog`); without a board it ends the process.
 */
#include "xsmc.h"
#include "../../../hosts/sim/c/board/board.h" /* the sim board (flash, otadata, images), shared with lin */
#include <math.h>

void xs_watchdog_arm(xsMachine* the)
{
	double timeout = xsmcToNumber(xsArg(0));
	if (!(timeout > 0) || !isfinite(timeout))
		xsRangeError("Watchdog.arm: timeout must be > 0");
	simWatchdogSet(the, timeout);
}

void xs_watchdog_feed(xsMachine* the)
{
	simWatchdogSet(the, -1);
}

void xs_watchdog_disarm(xsMachine* the)
{
	simWatchdogSet(the, 0);
}
