// Downloads shaped under load: at most `limit` image responses stream at once. A device over the limit is told to
// come back later (503 with a Retry-After spread with jitter, which the client honours), and admission is fair over
// time: a device refused first is admitted first. Refused devices wait in a queue by the time of their first
// refusal; a free slot goes to a device that is among the oldest waiters (as many as there are free slots), so a
// newcomer cannot take the slot of a device that has waited, and a waiter that stops asking leaves the queue.
// The Retry-After is when the device's turn should come: its place in the queue times the mean time a download has
// taken lately, over the limit, told a little early (80% to 95% of it, spread so that a crowd refused together does not
// come back together: a slot that frees finds a device asking, and one that comes too soon is told its place again). A
// free slot is held only for the waiters refused earlier whose turn is now (their Retry-After has come, within a
// quarter of a second, and a second's grace for the late): a slot whose waiter is not due yet, or is late, goes to whoever asks, so no
// slot stays idle while devices wait; a late waiter that comes back still has its place.
export interface AdmissionOptions {
	/** image responses streaming at once, at most */
	limit: number;
	/** ms since some origin; Date.now by default */
	now?: () => number;
	/** in [0, 1); Math.random by default */
	random?: () => number;
	/** the time a download is taken to last until one has finished, seconds (default 2); the Retry-After is at most
	 * maxRetrySeconds (default 900: a long queue is told its real turn, not to come back and ask again) */
	baseRetrySeconds?: number;
	maxRetrySeconds?: number;
}

export type Admission = { admitted: true; release(): void } | { admitted: false; retryAfterSeconds: number; position: number };

/** A waiter this late for its turn no longer keeps a slot free for itself, ms. */
const GRACE_MS = 1000;
/** A waiter this early for its turn already keeps a slot free for itself, ms. A slot kept for a waiter that is not
 * there is a slot idle: the window is short (a wider one, 3 s, left slots idle a sixth of the time at 10,000 devices). */
const EARLY_MS = 250;
/** The weight of the newest download in the mean duration. */
const DURATION_WEIGHT = 0.1;

export class DownloadGate {
	readonly limit: number;
	readonly #now: () => number;
	readonly #random: () => number;
	readonly #max: number;
	/** device id → when it was first refused, when it last asked, and when it is due back; in the order of first refusal */
	readonly #waiting = new Map<string, { since: number; seen: number; due: number }>();
	#active = 0;
	/** the mean time a download takes, ms (a moving average of the finished ones) */
	#meanMs: number;
	#sweptAt = -Infinity;
	/** the most that streamed at once, for tests and benchmarks */
	peak = 0;

	constructor(options: AdmissionOptions) {
		if (!Number.isInteger(options.limit) || options.limit < 1)
			throw new RangeError(`the download limit must be an integer >= 1, not ${options.limit}`);
		this.limit = options.limit;
		this.#now = options.now ?? Date.now;
		this.#random = options.random ?? Math.random;
		this.#meanMs = (options.baseRetrySeconds ?? 2) * 1000;
		this.#max = options.maxRetrySeconds ?? 900;
	}

	get active(): number {
		return this.#active;
	}

	/** How many wait now. */
	get waiting(): number {
		return this.#waiting.size;
	}

	/** A device asks to download; admitted, it must call release() when its response ends, whatever the end. */
	enter(deviceId: string): Admission {
		const now = this.#now();
		this.#forgetGone(now);
		const free = this.limit - this.#active;
		if (free > 0 && this.#ahead(deviceId, now, free, true) < free) {
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
						this.#meanMs += DURATION_WEIGHT * (Math.max(1, this.#now() - now) - this.#meanMs);
					}
				},
			};
		}
		let waiter = this.#waiting.get(deviceId);
		if (!waiter)
			this.#waiting.set(deviceId, waiter = { since: now, seen: now, due: now });
		const position = this.#ahead(deviceId, now, Infinity, false);
		// its turn: the slots free at limit / mean a second; a little early (80% to 95% of it), so that a device is
		// there whenever a slot frees (one that comes before a slot is free is told its place again), and spread
		const turn = ((position + 1) * this.#meanMs) / this.limit / 1000;
		const seconds = Math.max(1, Math.min(this.#max, Math.round(turn * (0.8 + 0.15 * this.#random()))));
		waiter.seen = now;
		waiter.due = now + seconds * 1000;
		return { admitted: false, retryAfterSeconds: seconds, position };
	}

	/** The waiters refused before this device (all of them, for a device that is not waiting) and not late for their
	 * turn; with dueNow, only those whose turn is now. Counting stops at `enough`. */
	#ahead(deviceId: string, now: number, enough: number, dueNow: boolean): number {
		let ahead = 0;
		for (const [id, waiter] of this.#waiting) {
			if (id === deviceId || ahead >= enough)
				break;
			if (now <= waiter.due + GRACE_MS && (!dueNow || now >= waiter.due - EARLY_MS))
				ahead++;
		}
		return ahead;
	}

	/** A waiter that has not asked for three times the longest Retry-After has gone elsewhere (or given up); looked at
	 * once a second at most. */
	#forgetGone(now: number): void {
		if (now - this.#sweptAt < 1000)
			return;
		this.#sweptAt = now;
		for (const [id, waiter] of this.#waiting)
			if (now - waiter.seen > 3 * this.#max * 1000 * 1.5)
				this.#waiting.delete(id);
	}
}
