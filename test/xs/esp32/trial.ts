// Run by test/node/esp32-natives.test.ts on a fake device booted pending: the watchdog through
// modules/watchdog/esp32/watchdog.c, then markValid or markInvalidAndReboot (the last line says which).
import Partition from "partition";
import Watchdog from "watchdog";
import { read } from "devconfig";

const state = (): any => JSON.parse(native("xs_fake_idf_state")());
const seen: Record<string, unknown> = { running: Partition.running(), before: state() };
Watchdog.arm(5000);
Watchdog.feed();
seen.armed = state();
Watchdog.disarm();
seen.disarmed = state();
try {
	seen.config = read();
} catch (error) {
	seen.config = (error as Error).message;
}
trace(JSON.stringify(seen) + "\n");
if (seen.config && typeof seen.config === "object" && (seen.config as any).fail)
	Partition.markInvalidAndReboot();
Partition.markValid();
trace(JSON.stringify({ valid: state() }) + "\n");
