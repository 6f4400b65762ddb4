// Run by test/node/lin-natives.test.ts in xsfota-lin: the reset cause from the launcher's XSFOTA_RESET, and the
// inactive slot's otadata entry invalidated before a rewrite. Prints one JSON line of what it saw.
import Partition from "partition";
import System from "system";

const seen: Record<string, unknown> = { reset: System.resetReason() };
const next = Partition.next();
Partition.invalidate(next);
seen.invalidated = next.label;
try {
	Partition.invalidate(Partition.running());
	seen.invalidateRunning = "accepted";
} catch (error) {
	seen.invalidateRunning = (error as Error).message;
}
trace(JSON.stringify(seen) + "\n");
