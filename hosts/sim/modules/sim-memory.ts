// The sim host's XS memory readings, for the memory benchmarks. Bytes: chunks, plus slots at their size.
export interface MemoryReading {
	chunks: number;
	slots: number;
	current: number;
	peakChunks: number;
	peakSlots: number;
	peak: number;
	/** 1 when the host runs with --tight-heap (a measuring run) */
	tight: number;
}

/** Reads the machine's memory; with resetPeak, the peak restarts from the current use. */
export function memory(resetPeak = false): MemoryReading {
	return native("xs_sim_memory")(resetPeak);
}

/** Runs a full garbage collection. */
export function collect(): void {
	native("xs_sim_gc")();
}
