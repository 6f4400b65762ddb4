// Maintenance windows of a rollout: a device may start an update only inside one. A window opens at each time its
// cron expression names (5 fields: minute hour day-of-month month day-of-week, read by croner) in its time zone
// (IANA, so daylight saving time is the zone's), and stays open durationMinutes. Outside every window, a device is
// told when the next one opens. Pure functions of a time, so tests drive them with any clock.
import { Cron } from "croner";
import type { MaintenanceWindow } from "./admin-api.js";

/** A week: a longer window is no window. */
export const MAX_WINDOW_MINUTES = 7 * 24 * 60;
export const MAX_WINDOWS = 16;

function cronOf(window: MaintenanceWindow): Cron {
	return new Cron(window.cron, { timezone: window.timeZone, paused: true });
}

/** Checks windows as an administrator gave them; throws RangeError naming the window and what is wrong. */
export function checkWindows(windows: unknown): MaintenanceWindow[] {
	if (!Array.isArray(windows) || windows.length > MAX_WINDOWS)
		throw new RangeError(`windows must be a list of at most ${MAX_WINDOWS}`);
	return windows.map((window: unknown, i) => {
		const where = `window ${i + 1}`;
		if (typeof window !== "object" || window === null || Array.isArray(window))
			throw new RangeError(`${where} must be {cron, durationMinutes, timeZone}`);
		const { cron, durationMinutes, timeZone, ...rest } = window as Record<string, unknown>;
		const unknown = Object.keys(rest);
		if (unknown.length > 0)
			throw new RangeError(`${where}: ${unknown[0]} is not a window field`);
		if (typeof cron !== "string" || cron.length > 100 || cron.trim().split(/\s+/).length !== 5)
			throw new RangeError(`${where}: cron must have 5 fields (minute hour day-of-month month day-of-week), e.g. "0 2 * * *"`);
		if (!Number.isInteger(durationMinutes) || (durationMinutes as number) < 1 || (durationMinutes as number) > MAX_WINDOW_MINUTES)
			throw new RangeError(`${where}: durationMinutes must be a whole number from 1 to ${MAX_WINDOW_MINUTES}`);
		if (typeof timeZone !== "string" || timeZone.length > 64)
			throw new RangeError(`${where}: timeZone must be an IANA time zone, e.g. "Europe/Paris"`);
		try {
			new Intl.DateTimeFormat("en", { timeZone });
		} catch {
			throw new RangeError(`${where}: ${JSON.stringify(timeZone)} is not a time zone`);
		}
		const checked = { cron: cron.trim(), durationMinutes: durationMinutes as number, timeZone };
		let next: Date | null;
		try {
			next = cronOf(checked).nextRun(new Date(0));
		} catch (error) {
			throw new RangeError(`${where}: cron ${JSON.stringify(cron)}: ${(error as Error).message}`);
		}
		if (next === null)
			throw new RangeError(`${where}: cron ${JSON.stringify(cron)} never fires`);
		return checked;
	});
}

export type WindowState = { open: true; closesAt: number | null } | { open: false; opensAt: number | null };

/** Whether `now` (ms) is inside one of the windows (no windows: always), and when that changes. */
export function windowState(windows: readonly MaintenanceWindow[], now: number): WindowState {
	if (windows.length === 0)
		return { open: true, closesAt: null };
	let closesAt = -Infinity, opensAt = Infinity;
	for (const window of windows) {
		const length = window.durationMinutes * 60_000;
		// The first start after (now - length): at or before now, the window that began then is still open.
		const start = cronOf(window).nextRun(new Date(now - length));
		if (start === null)
			continue;
		if (start.getTime() <= now)
			closesAt = Math.max(closesAt, start.getTime() + length);
		else
			opensAt = Math.min(opensAt, start.getTime());
	}
	if (closesAt > now)
		return { open: true, closesAt };
	return { open: false, opensAt: Number.isFinite(opensAt) ? opensAt : null };
}
