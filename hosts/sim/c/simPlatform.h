/* XS platform header for the xs-fota sim host (selected with -DXSPLATFORM="simPlatform.h"). */
#ifndef __SIM_PLATFORM__
#define __SIM_PLATFORM__

#if !defined(__GNUC__) || !(defined(__x86_64__) || defined(__aarch64__) || defined(__i386__) || defined(__arm__))
	#error "the sim host builds with GCC or Clang on a little-endian Linux machine"
#endif

#undef mxLittleEndian
#define mxLittleEndian 1
#undef mxLinux
#define mxLinux 1
#define mxExport extern
#define mxImport extern
#define XS_FUNCTION_NORETURN __attribute__((noreturn))

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <unistd.h>

#define mxUseGCCAtomics 1
#define mxUsePOSIXThreads 1

/* The engine's defaults are enough for these; the host supplies modules, promise jobs, abort and the loop. */
#define mxUseDefaultMachinePlatform 1
#define mxUseDefaultBuildKeys 1
#define mxUseDefaultChunkAllocation 1
#define mxUseDefaultSlotAllocation 1
#define mxUseDefaultParseScript 1
#define mxUseDefaultSharedChunks 1
#define mxUseDefaultDebug 1
/* The C stack's limit comes from platform.c, asked of the system once per thread: the engine's default asks at
 * every RegExp compiled (and every parse), and glibc answers for the main thread by reading /proc/self/maps. */
#define mxUseDefaultCStackLimit 0

/* host: the sim host's per-machine state (struct simHost in host.h). */
#define mxMachinePlatform \
	void* host; \
	void* waiterCondition; \
	void* waiterData; \
	void* waiterLink;

#if INTPTR_MAX == INT64_MAX
	#define mx32bitID 1
#endif

#define mxCESU8 1

#endif
