// Run by test/node/esp32-natives.test.ts in xsfota-esp32 (the ESP32's natives over our fake of ESP-IDF): the slots,
// NOR writes, the slot hash and activation through modules/partition/esp32/partition.c. Prints one JSON line.
import Partition from "partition";

const state = (): any => JSON.parse(native("xs_fake_idf_state")());
const attempt = (fn: () => unknown): unknown => {
	try {
		return fn();
	} catch (error) {
		return (error as Error).message;
	}
};
const running = Partition.running();
const next = Partition.next();
const image = new Uint8Array(10000);
for (let i = 0; i < image.length; i++)
	image[i] = (i * 7 + 3) & 0xff;
image[0] = 0xe9; // an ESP app image's magic
const seen: Record<string, unknown> = { running, next };
seen.activateBlank = attempt(() => Partition.activate(next));
Partition.erase(next, 0, 12288);
Partition.write(next, 0, image);
seen.readBack = Array.from(new Uint8Array(Partition.read(next, 0, 4)));
seen.rewrite = attempt(() => Partition.write(next, 0, new Uint8Array([0xff, 0xff])));
seen.eraseRunning = attempt(() => Partition.erase(running, 0, 4096));
seen.eraseOdd = attempt(() => Partition.erase(next, 100, 4096));
seen.sha256 = Array.from(new Uint8Array(Partition.sha256(next, image.length))).map((b) => b.toString(16).padStart(2, "0")).join("");
Partition.activate(next);
seen.after = state();
trace(JSON.stringify(seen) + "\n");
