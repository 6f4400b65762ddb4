/*
 * `system` on the simulated board: System.restart() resets the board through the bootloader. The same C serves
 * our sim host and Moddable's desktop simulator (lin); each target's glue implements simBoardReset.
 */
#include "xsmc.h"
#include "../../../hosts/sim/c/board/board.h" /* the sim board (flash, otadata, images), shared with lin */

void xs_system_restart(xsMachine* the)
{
	if (!simBoardCurrent())
		xsUnknownError("System.restart: no board here (run the firmware on `xsfota-sim board` or `xs-fota mcsim`)");
	simBoardReset("restart", "");
}
