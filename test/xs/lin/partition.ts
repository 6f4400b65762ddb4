// Run by test/node/lin-natives.test.ts in xsfota-lin (the desktop simulator's natives in our host) on a board
// whose ota_1 holds a sim image and whose ota_0 (running) holds a lin one. Prints one JSON line of what it saw.
import Partition from "partition";
import { read } from "devconfig";

const seen: Record<string, unknown> = {};
const running = Partition.running();
seen.running = running;
const next = Partition.next();
seen.next = next;
{
	// verify's one pass on the lin board: the digest matches (the bytes are what they are), the image check refuses
	const header = new Uint8Array(Partition.read(next, 0, 128));
	const size = 128 + (header[8]! | (header[9]! << 8) | (header[10]! << 16) | (header[11]! << 24));
	seen.verifySim = Partition.verify(next, size, Partition.sha256(next, size));
	seen.verifyWrong = Partition.verify(next, size, new Uint8Array(32));
}
try {
	Partition.activate(next);
	seen.activateSim = "accepted";
} catch (error) {
	seen.activateSim = (error as Error).message;
}
try {
	Partition.erase(running, 0, 4096);
	seen.eraseRunning = "accepted";
} catch (error) {
	seen.eraseRunning = (error as Error).message;
}
seen.config = read();
seen.digest = Array.from(new Uint8Array(Partition.sha256(running, 128))).map((b) => b.toString(16).padStart(2, "0")).join("");
trace(JSON.stringify(seen) + "\n");
