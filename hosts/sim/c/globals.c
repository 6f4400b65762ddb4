/* Globals that Moddable firmware expects: trace(), TextEncoder and TextDecoder (Moddable's own C modules). */
#include "host.h"

extern void modInstallTextEncoder(txMachine* the);
extern void modInstallTextDecoder(txMachine* the);

/* trace(...values): writes each value as a string, with no newline added, as Moddable's trace does */
static void sim_trace(txMachine* the)
{
	txInteger i;
	for (i = 0; i < mxArgc; i++)
		fputs(fxToString(the, mxArgv(i)), stdout);
	fflush(stdout);
}

void simInstallGlobals(txMachine* the)
{
	fxNewHostFunction(the, sim_trace, 1, fxID(the, "trace"), XS_NO_ID);
	mxPush(mxGlobal);
	fxDefineID(the, fxID(the, "trace"), XS_DONT_ENUM_FLAG, XS_DONT_DELETE_FLAG | XS_DONT_ENUM_FLAG | XS_DONT_SET_FLAG);
	mxPop();
	modInstallTextEncoder(the);
	modInstallTextDecoder(the);
}
