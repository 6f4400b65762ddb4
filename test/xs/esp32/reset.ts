// Run by test/node/esp32-natives.test.ts in xsfota-esp32: System.resetReason() over esp_reset_reason, and
// Partition.invalidate over esp_ota_invalidate_inactive_ota_data_slot. Prints one JSON line.
import Partition from "partition";
import System from "system";

const state = (): any => JSON.parse(native("xs_fake_idf_state")());
const seen: Record<string, unknown> = { reset: System.resetReason(), before: state() };
try {
	Partition.invalidate(Partition.next());
	seen.invalidated = state();
} catch (error) {
	seen.invalidated = (error as Error).message;
}
try {
	Partition.invalidate(Partition.running());
	seen.invalidateRunning = "accepted";
} catch (error) {
	seen.invalidateRunning = (error as Error).message;
}
trace(JSON.stringify(seen) + "\n");
