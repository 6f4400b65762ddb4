// One seeded pseudo-random generator for the tests (a linear congruential one): the same seed, the same runs.
/** Numbers in [0, 1), the same sequence for the same seed. */
export function seeded(seed: number): () => number {
	let x = seed;
	return () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
}
