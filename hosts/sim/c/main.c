/*
 * xsfota-sim: runs firmware modules in the XS engine with the real native modules.
 *   xsfota-sim [--modules map.json] [--memory-report file.json] entry
 *   xsfota-sim board --flash FILE ...   the simulated board (board/board.c)
 *   xsfota-sim boot --flash FILE --kind KIND ...   one bootloader pass, for the desktop simulator's launcher
 * entry is a module file or a bare specifier from the map. The exit status is 0 when the entry
 * module settles and the loop empties; non-zero, with a stack, on an uncaught exception, an unhandled
 * rejection, or a top-level await that never settles.
 */
#include "host.h"
#include <limits.h>

extern void simWriteMemoryReport(txMachine* the, const char* path);

static void simEntryFulfilled(txMachine* the)
{
	mxHost(the)->entryState = 1;
}

/* As in Node, an entry module that fails ends the process at once, pending timers or not. */
static void simEntryRejected(txMachine* the)
{
	mxHost(the)->entryState = 2;
	simFatal(the, "uncaught exception", mxArgv(0));
}

static void simUsage(void)
{
	fprintf(stderr,
		"usage: xsfota-sim [--modules map.json] [--memory-report file.json] entry\n"
		"       xsfota-sim board --flash FILE [--log events.jsonl] [--power-cut-after N] [--max-boots N] [--wdt-ms MS] [--tight-heap]\n"
		"  entry            a module file, or a bare specifier found in the module map\n"
		"  --modules FILE   JSON object from bare specifiers to module files\n"
		"  --memory-report FILE  write the machine's peak XS memory as JSON at exit\n"
		"  --tight-heap          grow the XS heap in small steps after collections: peaks then measure live memory\n");
}

void simStartEntry(txMachine* the, const char* entry, int files)
{
	char path[PATH_MAX];
	txSlot* realm = mxModuleInstanceInternal(mxProgram.value.reference)->value.module.realm;
	if (!files)
		mxPushStringC((txString)entry);
	else if (realpath(entry, path))
		mxPushStringC(path);
	else if (strchr(entry, '/') || strstr(entry, ".js")) {
		fprintf(stderr, "xsfota-sim: entry %s: %s\n", entry, strerror(errno));
		exit(2);
	}
	else
		mxPushStringC((txString)entry);
	fxRunImport(the, realm, XS_NO_ID);
	mxDub();
	fxGetID(the, mxID(_then));
	mxCall();
	fxNewHostFunction(the, simEntryFulfilled, 1, XS_NO_ID, XS_NO_ID);
	fxNewHostFunction(the, simEntryRejected, 1, XS_NO_ID, XS_NO_ID);
	mxRunCount(2);
	mxPop();
}

/* --tight-heap: the heap grows in small steps, after a collection, so that the peak is live memory
 * plus at most one step rather than garbage that no collection has needed to reclaim yet. */
int gxTightHeap = 0;

txMachine* simCreateMachine(simHost* host)
{
	txMachine* the;
	txCreation creation = {
		gxTightHeap ? 16 * 1024 : 64 * 1024,  /* initialChunkSize */
		gxTightHeap ? 1024 : 16 * 1024,       /* incrementalChunkSize */
		gxTightHeap ? 1024 : 4096,            /* initialHeapCount (slots) */
		gxTightHeap ? 64 : 1024,              /* incrementalHeapCount */
		4096,        /* stackCount */
		2048,        /* initialKeyCount */
		1024,        /* incrementalKeyCount */
		1993,        /* nameModulo */
		127,         /* symbolModulo */
		256 * 1024,  /* parserBufferSize */
		1993,        /* parserTableModulo */
	};
	the = fxCreateMachine(&creation, "xsfota-sim", NULL, XS_NO_ID);
	if (the)
		the->host = host;
	return the;
}

int main(int argc, char* argv[])
{
	static simHost host;
	const char* volatile entry = NULL;
	const char* volatile memoryReport = NULL;
	const char* volatile modules = NULL;
	int i;
	txMachine* the;
	simHttpStartup();
	if ((argc > 1) && !strcmp(argv[1], "board"))
		return simBoardMain(argc - 1, argv + 1);
	if ((argc > 1) && !strcmp(argv[1], "boot"))
		return simBootMain(argc - 1, argv + 1);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--modules") && (i + 1 < argc))
			modules = argv[++i];
		else if (!strcmp(argv[i], "--memory-report") && (i + 1 < argc))
			memoryReport = argv[++i];
		else if (!strcmp(argv[i], "--tight-heap"))
			gxTightHeap = 1;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			simUsage();
			return 0;
		}
		else if (argv[i][0] == '-') {
			fprintf(stderr, "xsfota-sim: unknown option %s\n", argv[i]);
			simUsage();
			return 2;
		}
		else if (!entry)
			entry = argv[i];
		else {
			fprintf(stderr, "xsfota-sim: unexpected argument %s\n", argv[i]);
			return 2;
		}
	}
	if (!entry) {
		simUsage();
		return 2;
	}
	the = simCreateMachine(&host);
	if (!the) {
		fprintf(stderr, "xsfota-sim: cannot create the XS machine\n");
		return 1;
	}
	fxBeginHost(the);
	{
		simInstallGlobals(the);
		simInstallNatives(the);
		if (modules)
			simLoadModuleMap(the, modules);
		mxTry(the) {
			simStartEntry(the, entry, 1);
		}
		mxCatch(the) {
			simFatal(the, "cannot start", &mxException);
		}
		simRunLoop(the);
		if (host.entryState == 0) {
			fprintf(stderr, "xsfota-sim: %s: top-level await never settled (nothing left to run)\n", entry);
			host.exitStatus = 1;
		}
	}
	fxEndHost(the);
	if (memoryReport)
		simWriteMemoryReport(the, memoryReport);
	fxDeleteMachine(the);
	simFreeModuleCode(&host);
	return host.exitStatus;
}
