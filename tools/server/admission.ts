// Downloads shaped under load: at most `limit` image responses stream at once. A device over the limit is told to
// come back later (503 with a Retry-After spread with jitter, which the client honours), and admission is fair over
// time: a device refused first is admitted first. Refused devices wait in a queue by the time of their first
// refusal; a free slot goes to a device that is among the oldest waiters (as many as there are free slots), so a
// newcomer cannot take the slot of a device that has waited, and a waiter that stops asking leaves the queue.
export interface AdmissionOptions {
	/** image responses streaming at once, at most */
	limit: number;
	/** ms since some origin; Date.now by default */
	now?: () => number;
	/** in [0, 1); Math.random by default */
	random?: () => number;
	/** the Retry-After for the first waiter, seconds (default 2); later positions wait longer, up to maxRetrySeconds */
	baseRetrySeconds?: number;
	maxRetrySeconds?: number;
}

export type Admission = { admitted: true; release(): void } | { admitted: false; retryAfterSeconds: number; position: number };

export class DownloadGate {
	readonly limit: number;
	readonly #now: () => number;
	readonly #random: () => number;
	readonly #base: number;
	readonly #max: number;
	/** device id → when it was first refused, and when it last asked */
	readonly #waiting = new Map<string, { since: number; seen: number }>();
	#active = 0;
	/** the most that streamed at once, for tests and benchmarks */
	peak = 0;

	constructor(options: AdmissionOptions) {
		if (!Number.isInteger(options.limit) || options.limit < 1)
			throw new RangeError(`the download limit must be an integer >= 1, not ${options.limit}`);
		this.limit = options.limit;
		this.#now = options.now ?? Date.now;
		this.#random = options.random ?? Math.random;
		this.#base = options.baseRetrySeconds ?? 2;
		this.#max = options.maxRetrySeconds ?? 60;
	}

	get active(): number {
		return this.#active;
	}

	/** A device asks to download; admitted, it must call release() when its response ends, whatever the end. */
	enter(deviceId: string): Admission {
		const now = this.#now();
		this.#forgetGone(now);
		const free = this.limit - this.#active;
		const ahead = this.#ahead(deviceId);
		if (free > 0 && ahead < free) {
			this.#waiting.delete(deviceId);
			this.#active++;
			this.peak = Math.max(this.peak, this.#active);
			let released = false;
			return {
				admitted: true,
				release: () => {
					if (!released) {
						released = true;
						this.#active--;
					}
				},
			};
		}
		const waiter = this.#waiting.get(deviceId);
		if (waiter)
			waiter.seen = now;
		else
			this.#waiting.set(deviceId, { since: now, seen: now });
		const position = this.#ahead(deviceId);
		// later in the queue, later back: one more base interval for each full round of slots ahead, with up to 50%
		// jitter so that a crowd refused together does not come back together
		const rounds = Math.floor(position / this.limit);
		const seconds = Math.min(this.#max, this.#base * (1 + rounds)) * (1 + 0.5 * this.#random());
		return { admitted: false, retryAfterSeconds: Math.max(1, Math.round(seconds)), position };
	}

	/** How many waiters were refused before this device (all of them for a device that is not waiting). */
	#ahead(deviceId: string): number {
		const mine = this.#waiting.get(deviceId);
		let ahead = 0;
		for (const [id, waiter] of this.#waiting) {
			if (id !== deviceId && (!mine || waiter.since < mine.since || (waiter.since === mine.since && id < deviceId)))
				ahead++;
		}
		return ahead;
	}

	/** A waiter that has not asked for three times the longest Retry-After has gone elsewhere (or given up). */
	#forgetGone(now: number): void {
		for (const [id, waiter] of this.#waiting)
			if (now - waiter.seen > 3 * this.#max * 1000 * 1.5)
				this.#waiting.delete(id);
	}
}
