// The event port on the sim board: the board's JSON Lines log. Events also carry the machine's XS memory:
// "check" the idle use after a full collection (the peak restarts there); "activate" the peak since then.
// In a measuring run (--tight-heap), "progress", "verified" and "activate" also carry the live memory,
// after a full collection: what the update holds, apart from garbage not yet collected.
import { event } from "sim/events";
import { collect, memory } from "sim/memory";
import type { EventSink } from "fota/ports";

const LIVE = new Set(["progress", "verified", "activate"]);
/** Read once, at start: a reading is an object, and one per progress event would be garbage in the figure it measures. */
const TIGHT = memory().tight === 1;

export const boardEvents: EventSink = (type, fields) => {
	if (type === "check") {
		collect();
		fields = { ...fields, memory: memory(true).current };
	}
	else if (type === "activate")
		fields = { ...fields, memoryPeak: memory().peak };
	if (TIGHT && LIVE.has(type)) {
		collect();
		fields = { ...fields, memoryLive: memory().current };
	}
	event(type, fields);
};
