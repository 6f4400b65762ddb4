/* The engine's platform hooks that the sim host supplies: promise job queue, abort, fatal reports, the C stack's
 * limit. */
#define _GNU_SOURCE /* pthread_getattr_np */
#include <pthread.h>
#include "host.h"

/* The lowest address the engine's C recursion may reach (RegExp compiles, the parser, the machine): the thread's
 * stack base plus a 128 KB margin, as the engine's default for Linux (xsCommon.c). The default asks
 * pthread_getattr_np each time, and for the main thread glibc reads and parses /proc/self/maps to answer: about
 * 0.3 ms in this process (libcurl and OpenSSL map many regions), paid at every RegExp literal evaluated, every
 * poll. A thread's stack does not move, so each thread asks once. */
char* fxCStackLimit(void)
{
	static __thread char* limit = C_NULL;
	static __thread int known = 0;
	if (!known) {
		pthread_attr_t attributes;
		void* base;
		size_t size;
		pthread_attr_init(&attributes);
		if ((pthread_getattr_np(pthread_self(), &attributes) == 0) && (pthread_attr_getstack(&attributes, &base, &size) == 0))
			limit = (char*)base + (128 * 1024);
		pthread_attr_destroy(&attributes);
		known = 1;
	}
	return limit;
}

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
