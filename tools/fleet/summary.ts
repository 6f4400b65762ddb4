// The fleet simulator's words for people: a live line every interval (devices by version and state, check-ins a
// second and their p99 over the interval, failed requests), and a final summary of the whole run.
import type { Fleet, FleetStats } from "./fleet.js";

/** What the last line saw, so that the next one speaks of the interval between them. */
export interface SummaryMark {
	at: number;
	checkins: number;
	failures: number;
}

function counts(record: Record<string, number>, order: readonly string[] = []): string {
	const keys = Object.keys(record).sort((a, b) => {
		const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
		return rank(a) - rank(b) || a.localeCompare(b, undefined, { numeric: true });
	});
	return keys.map((key) => `${key} ${record[key]}`).join(", ");
}

const STATES = ["idle", "downloading", "activating", "valid", "rolled-back", "rejected", "interrupted", "hung", "offline", "stopped"];

/** One line: "[  12s] 1000 devices | 1.0.0 620, 2.0.0 380 | idle 500, ... | 83 check-ins/s, p99 45 ms | 0 failed". */
export function summaryLine(fleet: Fleet, mark: SummaryMark): { line: string; mark: SummaryMark } {
	const stats = fleet.stats();
	const seconds = Math.max(1e-3, stats.elapsedSeconds - mark.at);
	const rate = (stats.checkins - mark.checkins) / seconds;
	const p99 = fleet.requests.latency(0.99, mark.checkins);
	const failed = stats.requestFailures - mark.failures;
	const line = `[${stats.elapsedSeconds.toFixed(0).padStart(4)}s] ${stats.devices} devices | ${counts(stats.byVersion)} | ${counts(stats.byState, STATES)}`
		+ ` | ${rate.toFixed(0)} check-ins/s, p99 ${p99.toFixed(0)} ms | ${failed} failed requests`;
	return { line, mark: { at: stats.elapsedSeconds, checkins: stats.checkins, failures: stats.requestFailures } };
}

/** The peak second's requests over the mean second's, in the seconds [from, to). */
export function peakOverMean(perSecond: readonly number[], from = 0, to = perSecond.length): number {
	const part = perSecond.slice(from, to);
	const mean = part.reduce((sum, n) => sum + n, 0) / Math.max(1, part.length);
	return mean > 0 ? Math.max(...part) / mean : 0;
}

/** The whole run, in a few lines. */
export function finalSummary(fleet: Fleet, stats: FleetStats = fleet.stats()): string {
	const requests = fleet.requests;
	const reasons = requests.failureReasons().slice(0, 5);
	const errors = new Map<string, number>();
	for (const device of fleet.devices)
		if (device.lastError !== undefined && device.behaviour !== "offline") {
			const reason = device.lastError.replace(/https:\/\/\S+/g, "URL").replace(/\d+/g, "N").slice(0, 100);
			errors.set(reason, (errors.get(reason) ?? 0) + 1);
		}
	const lines = [
		`after ${stats.elapsedSeconds.toFixed(1)} s, ${stats.devices} devices`,
		`  behaviours  ${counts(stats.byBehaviour, ["ok", "fail", "hang", "offline"])}`,
		`  versions    ${counts(stats.byVersion)}`,
		`  states      ${counts(stats.byState, STATES)}`,
		`  check-ins   ${stats.checkins} (${stats.checkinsPerSecond.toFixed(1)}/s), p99 ${stats.checkinP99Ms.toFixed(1)} ms`,
		`  requests    ${counts(requests.counts)}; busiest second ${Math.max(0, ...stats.requestsPerSecond)}`,
		`  failed      ${stats.requestFailures} requests${reasons.length ? `: ${reasons.map(([reason, n]) => `${n} × ${reason}`).join("; ")}` : ""}`,
	];
	if (errors.size)
		lines.push(`  last errors ${[...errors].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([reason, n]) => `${n} × ${reason}`).join("; ")}`);
	return lines.join("\n");
}
