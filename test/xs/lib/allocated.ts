// What an async step allocates in XS, garbage included, for the heap tests (client-heap, download-heap): room is made
// first that the measurement cannot fill, so that no collection happens while the step runs.
import { memory, collect } from "sim/memory";

/** XS's peak over what was live before `fn`'s second run (the first makes what a module or client keeps for good):
 * everything that run allocated, garbage included. */
export async function allocated(fn: () => Promise<unknown>): Promise<number> {
	await fn();
	let room: unknown[] | undefined = [new Uint8Array(512 * 1024)];
	for (let i = 0; i < 16384; i++)
		room.push({ i });
	room = undefined;
	collect();
	const before = memory(true);
	await fn();
	return memory().peak - before.current;
}
