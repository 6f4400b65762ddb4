// Run by test/node/esp32-natives.test.ts in xsfota-esp32: Partition.verify over the fake ESP-IDF. One pass of reads
// for the SHA-256 and the app image's magic; activate's esp_ota_set_boot_partition still reads the image itself (the
// fake counts both). Prints one JSON line.
import Partition from "partition";

const state = (): any => JSON.parse(native("xs_fake_idf_state")());
const attempt = (fn: () => unknown): unknown => {
	try {
		return fn() ?? "ok";
	} catch (error) {
		return (error as Error).message;
	}
};
const digestOf = (): Uint8Array => new Uint8Array(Partition.sha256(next, image.length));
const next = Partition.next();
const image = new Uint8Array(10000);
for (let i = 0; i < image.length; i++)
	image[i] = (i * 5 + 1) & 0xff;
image[0] = 0x00; // not an ESP app image (magic 0xE9)
Partition.erase(next, 0, 12288);
Partition.write(next, 0, image);
const seen: Record<string, unknown> = {};
const signed = digestOf();
seen.notBootable = attempt(() => Partition.verify(next, image.length, signed));
seen.wrongDigest = attempt(() => Partition.verify(next, image.length, new Uint8Array(32)));
seen.shortDigest = attempt(() => Partition.verify(next, image.length, new Uint8Array(16)));
seen.tooLong = attempt(() => Partition.verify(next, next.size + 1, signed));
Partition.erase(next, 0, 12288);
image[0] = 0xe9;
Partition.write(next, 0, image);
const good = digestOf();
const before = state();
seen.good = attempt(() => Partition.verify(next, image.length, good));
const verified = state();
seen.verifyReads = verified.reads[1] - before.reads[1];
seen.activate = attempt(() => Partition.activate(next));
const activated = state();
seen.activateReads = activated.reads[1] - verified.reads[1];
seen.validations = activated.validations[1] - verified.validations[1];
seen.after = activated;
trace(JSON.stringify(seen) + "\n");
