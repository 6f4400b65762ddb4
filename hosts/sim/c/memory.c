/* xs_sim_memory(resetPeak): the machine's XS memory in bytes (chunks, plus slots at sizeof(txSlot)). */
#include "host.h"

static void simSetNumber(txMachine* the, const char* name, double value)
{
	mxPushNumber(value);
	mxPushSlot(mxResult);
	fxSetID(the, fxID(the, (txString)name));
	mxPop();
}

void xs_sim_memory(txMachine* the)
{
	double slot = sizeof(txSlot);
	mxPush(mxObjectPrototype);
	fxNewObjectInstance(the);
	mxPullSlot(mxResult);
	simSetNumber(the, "chunks", the->currentChunksSize);
	simSetNumber(the, "slots", the->currentHeapCount * slot);
	simSetNumber(the, "current", the->currentChunksSize + the->currentHeapCount * slot);
	simSetNumber(the, "peakChunks", the->peakChunksSize);
	simSetNumber(the, "peakSlots", the->peakHeapCount * slot);
	simSetNumber(the, "peak", the->peakChunksSize + the->peakHeapCount * slot);
	simSetNumber(the, "tight", gxTightHeap);
	if ((mxArgc > 0) && fxToBoolean(the, mxArgv(0))) {
		the->peakChunksSize = the->currentChunksSize;
		the->peakHeapCount = the->currentHeapCount;
	}
}

/* xs_sim_gc(): a full collection, so that a memory reading means live data only */
void xs_sim_gc(txMachine* the)
{
	fxCollectGarbage(the);
}

void simWriteMemoryReport(txMachine* the, const char* path)
{
	FILE* file = fopen(path, "w");
	double slot = sizeof(txSlot);
	if (!file) {
		fprintf(stderr, "xsfota-sim: cannot write memory report %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(file, "{\"peakChunks\":%.0f,\"peakSlots\":%.0f,\"peak\":%.0f,\"chunks\":%.0f,\"slots\":%.0f}\n",
		(double)the->peakChunksSize, the->peakHeapCount * slot, the->peakChunksSize + the->peakHeapCount * slot,
		(double)the->currentChunksSize, the->currentHeapCount * slot);
	fclose(file);
}
