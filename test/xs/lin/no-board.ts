// Run by test/node/lin-natives.test.ts without XSFOTA_FLASH: no board, so no config and no flash.
import Partition from "partition";
import { read } from "devconfig";

const seen: Record<string, unknown> = { config: read() === undefined ? "none" : "some" };
try {
	Partition.running();
} catch (error) {
	seen.running = (error as Error).message;
}
trace(JSON.stringify(seen) + "\n");
