/* Shared state and helpers of the sim host. */
#ifndef __SIM_HOST__
#define __SIM_HOST__

#include "xsAll.h"

typedef struct simTimer simTimer;

typedef struct simHost {
	int exitStatus;          /* set by fxAbort and the entry runner; the process exit code */
	int promiseJobs;         /* promise jobs are queued */
	simTimer* timers;        /* active timers, in no order */
	const char* modulesPath; /* JSON module map file, or NULL */
	int entryState;          /* the entry module: 0 pending, 1 fulfilled, 2 rejected */
	void* image;             /* board mode: the booted sim image (board/image.c), the source of every module */
	double deadline;         /* monotonic ms when the watchdog expires; 0 when disarmed */
	double turnStart;        /* monotonic ms when the loop last turned (the task watchdog's feed) */
	void (*onDeadline)(txMachine* the);  /* board mode: the watchdog resets the board */
	void (*onFatal)(txMachine* the, const char* what, const char* message);  /* board mode: a crash resets the board */
	struct simModuleCode* moduleCode; /* the modules' code, kept outside the heap as a device's flash (modules.c) */
} simHost;

#define mxHost(the) ((simHost*)((the)->host))

/* event loop (loop.c) */
extern void simRunLoop(txMachine* the);
extern double simNow(void);

/* timers (timer.c) */
extern double simNextTimer(txMachine* the);   /* ms until the next due timer, or -1 when none */
extern int simRunDueTimer(txMachine* the);     /* runs one due timer; returns 1 when one ran */

/* HTTPS transfers (http.c) */
extern void simHttpStartup(void);             /* libcurl's and OpenSSL's one-time setup, at the process's start */
extern int simHttpActive(void);
extern void simHttpWait(double milliseconds);  /* waits for socket activity, at most milliseconds (or 1 s when < 0) */
extern int simHttpDispatch(txMachine* the);
extern void simHttpReset(void);               /* detaches every transfer before the machine is deleted */

/* machines and entry modules (main.c); files: resolve the entry as a file path first */
extern txMachine* simCreateMachine(simHost* host);
extern int gxTightHeap;
extern void simStartEntry(txMachine* the, const char* entry, int files);

/* the simulated board (board/board.c): xsfota-sim board ... */
extern int simBoardMain(int argc, char* argv[]);
extern int simBootMain(int argc, char* argv[]);

/* modules (modules.c) */
extern void simLoadModuleMap(txMachine* the, const char* path);
extern void simFreeModuleCode(simHost* host);  /* after the machine is deleted */

/* natives (natives.c) */
extern void simInstallNatives(txMachine* the);

/* globals: trace, TextEncoder, TextDecoder (globals.c) */
extern void simInstallGlobals(txMachine* the);

/* true when slot references a host object (an instance whose first internal slot is host data) */
static inline int simIsHostObject(txSlot* slot)
{
	txSlot* instance = ((slot->kind == XS_REFERENCE_KIND) ? slot->value.reference : C_NULL);
	return instance && instance->next && (instance->next->kind == XS_HOST_KIND);
}

/* reports the pending exception with its stack and exits with the given status */
extern void simFatal(txMachine* the, const char* what, txSlot* exception) XS_FUNCTION_NORETURN;

#endif
