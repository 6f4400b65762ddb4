/* The engine's platform hooks that the sim host supplies: promise job queue, abort, fatal reports. */
#include "host.h"

void fxQueuePromiseJobs(txMachine* the)
{
	mxHost(the)->promiseJobs = 1;
}

/* Prints "<what>: <message>" and the stack (file:line frames) of an exception, then exits. */
void simFatal(txMachine* the, const char* what, txSlot* exception)
{
	txSlot value = *exception;
	char text[8192] = "(the exception could not be printed)";
	fflush(stdout);
	mxTry(the) {
		txBoolean printed = 0;
		mxPushSlot(&value);
		if (mxIsReference(the->stack)) {
			mxPushSlot(&value);
			fxGetID(the, fxID(the, "stack"));
			if (mxIsStringPrimitive(the->stack)) {
				snprintf(text, sizeof(text), "%s", fxToString(the, the->stack));
				printed = 1;
			}
			mxPop();
		}
		if (!printed)
			snprintf(text, sizeof(text), "%s", fxToString(the, the->stack));
		mxPop();
	}
	mxCatch(the) {
	}
	if (mxHost(the)->onFatal)
		mxHost(the)->onFatal(the, what, text);
	fprintf(stderr, "xsfota-sim: %s: %s\n", what, text);
	fflush(stderr);
	exit(mxHost(the)->exitStatus ? mxHost(the)->exitStatus : 1);
}

void fxAbort(txMachine* the, int status)
{
	switch (status) {
	case XS_UNHANDLED_EXCEPTION_EXIT:
		simFatal(the, "uncaught exception", &mxException);
	case XS_UNHANDLED_REJECTION_EXIT:
		simFatal(the, "unhandled rejection", &mxException);
	default:
		break;
	}
	if (mxHost(the)->onFatal) {
		char text[32];
		snprintf(text, sizeof(text), "abort %d", status);
		mxHost(the)->onFatal(the, (status == XS_STACK_OVERFLOW_EXIT) ? "stack overflow" : (status == XS_NOT_ENOUGH_MEMORY_EXIT) ? "memory full" : "abort", text);
	}
	switch (status) {
	case XS_STACK_OVERFLOW_EXIT:
		fprintf(stderr, "xsfota-sim: stack overflow\n");
		break;
	case XS_NOT_ENOUGH_MEMORY_EXIT:
		fprintf(stderr, "xsfota-sim: memory full\n");
		break;
	case XS_NO_MORE_KEYS_EXIT:
		fprintf(stderr, "xsfota-sim: not enough keys\n");
		break;
	default:
		fprintf(stderr, "xsfota-sim: abort %d\n", status);
		break;
	}
	exit(status ? status : 1);
}
