// When an update may proceed: the app's holds ("busy, not now") and the maintenance window.
import type { MaintenanceWindow } from "./config.js";

export type Release = () => void;

/** Holds taken by the app. While any is active there is no activation and no reboot. */
export class Holds {
	#active = new Map<number, string>();
	#next = 1;
	#waiters: (() => void)[] = [];

	/** Takes a hold; the returned function releases it (once; later calls do nothing). */
	hold(reason: string): Release {
		if (typeof reason !== "string" || reason.length === 0)
			throw new TypeError("hold: a reason is required");
		const id = this.#next++;
		this.#active.set(id, reason);
		return () => {
			if (this.#active.delete(id) && this.#active.size === 0) {
				const waiters = this.#waiters;
				this.#waiters = [];
				for (const wake of waiters)
					wake();
			}
		};
	}
	get reasons(): string[] {
		return [...this.#active.values()];
	}
	get held(): boolean {
		return this.#active.size > 0;
	}
	/** Resolves when no hold is active. */
	released(): Promise<void> {
		return this.held ? new Promise((resolve) => this.#waiters.push(resolve)) : Promise.resolve();
	}
}

function minutes(time: string): number {
	return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

export type WindowVerdict = { open: true } | { open: false; reason: "outside-window" | "no-clock"; waitMs: number };

/** Whether the window is open at wallMs (UTC), and if not, how long until it opens. */
export function checkWindow(window: MaintenanceWindow | undefined, wallMs: number | undefined, withoutClock: "defer" | "allow"): WindowVerdict {
	if (!window)
		return { open: true };
	if (wallMs === undefined)
		return withoutClock === "allow" ? { open: true } : { open: false, reason: "no-clock", waitMs: 60000 };
	const day = 1440;
	const now = Math.floor(wallMs / 60000) % day;
	const start = minutes(window.start), end = minutes(window.end);
	const inside = start < end ? now >= start && now < end : now >= start || now < end;
	if (inside)
		return { open: true };
	const wait = ((start - now + day) % day) * 60000 - (wallMs % 60000);
	return { open: false, reason: "outside-window", waitMs: Math.max(1000, wait) };
}
