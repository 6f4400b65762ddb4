/*
 * Natives behind the sim's `timer` module (Moddable's Timer API: set, repeat, schedule, clear, delay).
 * An active timer is kept alive by the host; a cleared or spent one belongs to its JS object alone.
 */
#include "host.h"
#include "board/board.h"
#include <time.h>

struct simTimer {
	simTimer* next;
	double when;      /* monotonic ms */
	double repeat;    /* ms between firings after the first; 0 for a one-shot timer */
	int active;
	txSlot self;      /* the JS timer object, remembered while active */
	txSlot callback;
};

static void simTimerDestructor(void* data)
{
	free(data);
}

static void simTimerMark(txMachine* the, void* data, txMarkRoot markRoot)
{
	simTimer* timer = data;
	if (timer)
		(*markRoot)(the, &timer->callback);
}

static const txHostHooks gxTimerHooks = { simTimerDestructor, simTimerMark };

static double simDelayArgument(txMachine* the, txInteger index)
{
	double value;
	if (mxArgc <= index)
		return 0;
	if (mxIsUndefined(mxArgv(index)))
		return 0;
	value = fxToNumber(the, mxArgv(index));
	if (!(value >= 0) || !isfinite(value))
		mxRangeError("timer: interval must be a finite number >= 0");
	return value;
}

static simTimer* simTimerOf(txMachine* the, txSlot* slot)
{
	simTimer* timer;
	if (!simIsHostObject(slot) || (fxGetHostHooks(the, slot) != &gxTimerHooks))
		mxTypeError("timer: not a timer");
	timer = fxGetHostData(the, slot);
	if (!timer)
		mxTypeError("timer: not a timer");
	return timer;
}

static void simActivate(txMachine* the, simTimer* timer)
{
	if (!timer->active) {
		timer->active = 1;
		timer->next = mxHost(the)->timers;
		mxHost(the)->timers = timer;
		fxRemember(the, &timer->self);
	}
}

static void simDeactivate(txMachine* the, simTimer* timer)
{
	simTimer** address = &mxHost(the)->timers;
	if (!timer->active)
		return;
	while (*address) {
		if (*address == timer) {
			*address = timer->next;
			break;
		}
		address = &(*address)->next;
	}
	timer->active = 0;
	timer->next = NULL;
	fxForget(the, &timer->self);
}

/* Timer.set(callback, interval = 0, repeat = 0) -> timer */
void xs_timer_set(txMachine* the)
{
	simTimer* timer;
	double interval, repeat;
	if ((mxArgc < 1) || !fxIsCallable(the, mxArgv(0)))
		mxTypeError("Timer.set: callback is not a function");
	interval = simDelayArgument(the, 1);
	repeat = simDelayArgument(the, 2);
	timer = calloc(1, sizeof(simTimer));
	if (!timer)
		mxRangeError("Timer.set: out of memory");
	timer->when = simNow() + interval;
	timer->repeat = repeat;
	timer->callback = *mxArgv(0);
	fxNewHostObject(the, C_NULL);
	fxSetHostData(the, the->stack, timer);
	fxSetHostHooks(the, the->stack, &gxTimerHooks);
	timer->self = *the->stack;
	mxPullSlot(mxResult);
	simActivate(the, timer);
}

/* Timer.schedule(timer, interval = 0, repeat = 0) */
void xs_timer_schedule(txMachine* the)
{
	simTimer* timer = simTimerOf(the, mxArgv(0));
	timer->when = simNow() + simDelayArgument(the, 1);
	timer->repeat = simDelayArgument(the, 2);
	simActivate(the, timer);
}

/* Timer.clear(timer): clearing undefined or null is allowed, as in Moddable */
void xs_timer_clear(txMachine* the)
{
	if ((mxArgc < 1) || mxIsUndefined(mxArgv(0)) || mxIsNull(mxArgv(0)))
		return;
	simDeactivate(the, simTimerOf(the, mxArgv(0)));
}

/* Timer.delay(ms): blocks the whole machine, as on the device */
void xs_timer_delay(txMachine* the)
{
	double ms = simDelayArgument(the, 0);
	struct timespec ts = { (time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1000000) };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The watchdog's deadline (host->deadline) counts as a timer, so that the loop wakes for it even when idle. */
double simNextTimer(txMachine* the)
{
	double now = simNow(), next = -1;
	simTimer* timer;
	mxHost(the)->turnStart = now;
	if (mxHost(the)->deadline > 0)
		next = (mxHost(the)->deadline > now) ? mxHost(the)->deadline - now : 0;
	for (timer = mxHost(the)->timers; timer; timer = timer->next) {
		double wait = timer->when - now;
		if (wait < 0)
			wait = 0;
		if ((next < 0) || (wait < next))
			next = wait;
	}
	return next;
}

static void simDeadlinePassed(txMachine* the)
{
	if (mxHost(the)->onDeadline)
		mxHost(the)->onDeadline(the);
	fprintf(stderr, "xsfota-sim: the watchdog expired (no board to reset: exiting)\n");
	exit(3);
}

int simRunDueTimer(txMachine* the)
{
	double now = simNow();
	simTimer* due = NULL;
	simTimer* timer;
	mxHost(the)->turnStart = now;
	if ((mxHost(the)->deadline > 0) && (now >= mxHost(the)->deadline))
		simDeadlinePassed(the);
	for (timer = mxHost(the)->timers; timer; timer = timer->next) {
		if ((timer->when <= now) && (!due || (timer->when < due->when)))
			due = timer;
	}
	if (!due)
		return 0;
	mxPushSlot(&due->self);  /* keeps the timer alive while its callback runs */
	if (due->repeat > 0)
		due->when += due->repeat;
	else
		simDeactivate(the, due);
	mxTry(the) {
		mxPushUndefined();
		mxPushSlot(&due->callback);
		mxCall();
		mxPushSlot(&due->self);
		mxRunCount(1);
		mxPop();
	}
	mxCatch(the) {
		fxAbort(the, XS_UNHANDLED_EXCEPTION_EXIT);
	}
	mxPop();
	return 1;
}

/* The sim host's watchdog for modules/watchdog/sim/watchdog.c: its deadline is host->deadline. A timeout of 0
 * disarms; a negative timeout feeds (restarts the countdown of an armed watchdog). */
static double gxWatchdogTimeout = 0;

void simWatchdogSet(void* machine, double timeoutMs)
{
	txMachine* the = machine;
	if (timeoutMs > 0) {
		gxWatchdogTimeout = timeoutMs;
		mxHost(the)->deadline = simNow() + timeoutMs;
	}
	else if (timeoutMs < 0) {
		if (mxHost(the)->deadline > 0)
			mxHost(the)->deadline = simNow() + gxWatchdogTimeout;
	}
	else
		mxHost(the)->deadline = 0;
}
