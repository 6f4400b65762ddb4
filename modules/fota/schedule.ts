// When to check next: the poll interval with jitter when all is well, exponential back-off after errors,
// and never sooner than a server's Retry-After. Spreading the checks keeps a fleet from arriving at once.
export interface ScheduleConfig {
	pollSeconds: number;
	jitter: number;
	backoffSeconds: number;
	maxBackoffSeconds: number;
}

/** Milliseconds until the next check. failures counts the errors in a row; random is in [0, 1). */
export function nextDelay(config: ScheduleConfig, failures: number, random: number, retryAfterMs = 0): number {
	let delay: number;
	if (failures <= 0) {
		const spread = config.pollSeconds * config.jitter;
		delay = (config.pollSeconds - spread + 2 * spread * random) * 1000;
	}
	else {
		const cap = Math.min(config.maxBackoffSeconds, config.backoffSeconds * 2 ** Math.min(failures - 1, 30));
		delay = (cap / 2 + (cap / 2) * random) * 1000; // "equal jitter": at least half the back-off
	}
	return Math.max(Math.round(delay), retryAfterMs);
}

/** Parses Retry-After (seconds, or an HTTP date when the wall time is known) into milliseconds. */
export function retryAfter(value: string | undefined, wallMs: number | undefined): number {
	if (!value)
		return 0;
	if (/^\d+$/.test(value.trim()))
		return Math.min(Number(value.trim()), 86400) * 1000;
	const date = Date.parse(value);
	if (!Number.isNaN(date) && wallMs !== undefined)
		return Math.min(Math.max(0, date - wallMs), 86400000);
	return 0;
}
