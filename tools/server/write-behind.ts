// Writes whose answer is already out (a poll's check, a `downloading` report), run a moment later, off the path of
// the requests that follow. Why: on the server's one thread a commit that runs while a device's next request waits
// is time that device waits, and a device updating makes its check, its `downloading` report and its image request
// within milliseconds of each other; the commits of the first two, run at once, held up the other two (docs/speed.md,
// "The fifth pass"). Each key (a device) has one chain: its writes run in the order they came, one after another,
// beginning `delayMs` after the first of them, or at once when somebody needs them (flush: the device's next request
// but an image's, an outcome report, an admin request, `recorded()`, `close()`). A write that fails is reported to
// onError and the chain goes on. Nothing here knows what a write does: the server decides which writes may wait
// (docs/server.md, "Durability").

export class WriteBehind {
	readonly #delayMs: number;
	readonly #onError: (key: string, what: string, error: unknown) => void;
	readonly #chains = new Map<string, { tail: Promise<void>; start: () => void; timer: NodeJS.Timeout | undefined }>();

	/** delayMs: how long a key's first write waits before its chain runs, unless flushed (0: it runs at once) */
	constructor(delayMs: number, onError: (key: string, what: string, error: unknown) => void) {
		if (!Number.isSafeInteger(delayMs) || delayMs < 0)
			throw new RangeError(`a write-behind delay must be a whole number of ms, 0 or more, not ${delayMs}`);
		this.#delayMs = delayMs;
		this.#onError = onError;
	}

	/** Writes pending or running, over all keys. */
	get size(): number {
		return this.#chains.size;
	}

	/** Queues write after the key's earlier writes. */
	add(key: string, what: string, write: () => Promise<void>): void {
		let chain = this.#chains.get(key);
		if (!chain) {
			let start!: () => void;
			const started = new Promise<void>((resolve) => { start = resolve; });
			chain = { tail: started, start, timer: undefined };
			if (this.#delayMs > 0)
				chain.timer = setTimeout(start, this.#delayMs);
			else
				start();
			this.#chains.set(key, chain);
		}
		const tail: Promise<void> = chain.tail.then(write).then(() => {}, (error) => this.#onError(key, what, error));
		chain.tail = tail;
		void tail.finally(() => {
			if (this.#chains.get(key)?.tail === tail)
				this.#chains.delete(key);
		});
	}

	/** Runs the key's writes now, if they wait; resolves once every write queued for it so far has run. */
	flush(key: string): Promise<void> {
		const chain = this.#chains.get(key);
		if (!chain)
			return Promise.resolve();
		clearTimeout(chain.timer);
		chain.start();
		return chain.tail;
	}

	/** flush for every key. */
	async flushAll(): Promise<void> {
		await Promise.all([...this.#chains.keys()].map((key) => this.flush(key)));
	}
}
