/* The sim host's event loop: promise jobs, then due timers; it sleeps until the next timer instead of spinning. */
#include "host.h"
#include <poll.h>
#include <time.h>

double simNow(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1000000.0;
}

static void simDrainPromiseJobs(txMachine* the)
{
	simHost* host = mxHost(the);
	while (host->promiseJobs) {
		host->promiseJobs = 0;
		fxRunPromiseJobs(the);
	}
	fxEndJob(the);
	/* As in Node: a rejection still unhandled once the job queue is empty is fatal. */
	fxCheckUnhandledRejections(the, 1);
}

void simRunLoop(txMachine* the)
{
	for (;;) {
		double wait;
		simDrainPromiseJobs(the);
		if (simRunDueTimer(the))
			continue;
		if (simHttpDispatch(the))
			continue;
		wait = simNextTimer(the);
		if (simHttpActive())
			simHttpWait(wait); /* sleeps until a socket is ready or the next timer is due */
		else if (wait < 0)
			break;
		else if (wait > 0)
			poll(NULL, 0, (int)ceil(wait));
	}
	simDrainPromiseJobs(the);
}
