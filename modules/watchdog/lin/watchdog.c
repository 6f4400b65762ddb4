/*
 * `watchdog` in Moddable's desktop simulator (lin): a thread of its own counts down, so that a busy loop in the
 * firmware, or an exception that mcsim catches and leaves the app stopped, still ends in a reset. On expiry the
 * board resets (hosts/lin/c/board-lin.c): mcsim exits and the launcher boots again, which rolls back a pending image.
 */
#include "xsmc.h"
#include "../../../hosts/sim/c/board/board.h" /* the sim board (flash, otadata, images), shared with lin */
#include <math.h>
#include <pthread.h>
#include <time.h>

static pthread_mutex_t gxMutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gxChanged = PTHREAD_COND_INITIALIZER;
static pthread_t gxThread;
static int gxStarted = 0;
static double gxTimeout = 0;   /* ms; 0 when disarmed */
static double gxDeadline = 0;  /* CLOCK_MONOTONIC ms */

static double nowMs(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
}

static void* watch(void* unused)
{
	pthread_mutex_lock(&gxMutex);
	for (;;) {
		if (gxTimeout <= 0)
			pthread_cond_wait(&gxChanged, &gxMutex);
		else {
			double left = gxDeadline - nowMs();
			if (left <= 0) {
				pthread_mutex_unlock(&gxMutex);
				simBoardReset("watchdog", "the watchdog was not fed in time");
			}
			else {
				struct timespec until;
				double at = nowMs() + left;
				clock_gettime(CLOCK_MONOTONIC, &until);
				until.tv_sec = (time_t)(at / 1000);
				until.tv_nsec = (long)(fmod(at, 1000) * 1e6);
				pthread_cond_timedwait(&gxChanged, &gxMutex, &until);
			}
		}
	}
	return NULL;
}

static void set(xsMachine* the, double timeout, int feedOnly)
{
	pthread_mutex_lock(&gxMutex);
	if (!gxStarted) {
		pthread_condattr_t attributes;
		pthread_condattr_init(&attributes);
		pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
		pthread_cond_destroy(&gxChanged);
		pthread_cond_init(&gxChanged, &attributes);
		if (pthread_create(&gxThread, NULL, watch, NULL)) {
			pthread_mutex_unlock(&gxMutex);
			xsUnknownError("Watchdog: cannot start the watchdog thread");
		}
		pthread_detach(gxThread);
		gxStarted = 1;
	}
	if (!feedOnly)
		gxTimeout = timeout;
	if (gxTimeout > 0)
		gxDeadline = nowMs() + gxTimeout;
	pthread_cond_signal(&gxChanged);
	pthread_mutex_unlock(&gxMutex);
}

void xs_watchdog_arm(xsMachine* the)
{
	double timeout = xsmcToNumber(xsArg(0));
	if (!(timeout > 0) || !isfinite(timeout))
		xsRangeError("Watchdog.arm: timeout must be > 0");
	set(the, timeout, 0);
}

void xs_watchdog_feed(xsMachine* the)
{
	set(the, 0, 1);
}

void xs_watchdog_disarm(xsMachine* the)
{
	set(the, 0, 0);
}
