// Idle memory, measured inside XS (the sim host's sim/memory): what a module of the client keeps for the device's
// life once loaded (its classes' definitions, its constants). Module code runs from outside the heap, as from a
// device's flash, so what is counted is the objects the module makes (README, "Memory"). The modules it imports are
// loaded first, apart, so that each figure is the module's own.
import { memory, collect } from "sim/memory";
import { test } from "./lib/harness.js";

/** The live memory a dynamic import of `specifier` adds, after a full collection before and after. */
async function loaded(specifier: string): Promise<number> {
	collect();
	const before = memory().current;
	await import(specifier);
	collect();
	return memory().current - before;
}

// Figure in brackets: download.ts before this test, measured by it: RangedDownload's members were #private; in XS a
// class's #private member costs about twice the slots of a TypeScript-private one (a public property in JS) in the
// class's definition (and in XS a download in one request costs 11,344 bytes with them public, 11,760 without).
test("the download module's class keeps its members TypeScript-private: loading the module costs under 14,000 bytes", async (t) => {
	for (const dependency of ["fota/errors", "fota/hex", "fota/transfer", "fota/schedule"])
		await import(dependency);
	const cost = await loaded("fota/download");
	t.true(cost <= 14000, `loading fota/download: ${cost} bytes (was 15,088; 17,968 once it had the methods that took the async function's place, still #private)`);
});
