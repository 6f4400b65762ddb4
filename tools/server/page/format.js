// Small shared pieces of the fleet page: times, shares and counts as a person reads them, a state's badge, the
// freshness line of a live view (./live.js), an error box, and a stacked progress bar.
import { html } from "htm/preact";

/** @param {string | null | undefined} iso @returns {string} local date and time, to the second, or "—" */
export function when(iso) {
	if (!iso)
		return "—";
	const date = new Date(iso);
	const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
	return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** @param {Date | undefined} date */
export const clock = (date) => date ? when(date.toISOString()).slice(11) : "—";

/** @param {number} share in [0, 1] @returns {string} e.g. "5%", "12.5%" */
export function percent(share) {
	const value = Math.round(share * 1000) / 10;
	return `${value}%`;
}

/** @param {number} seconds */
export function duration(seconds) {
	if (seconds < 120)
		return `${seconds} s`;
	if (seconds < 3600)
		return `${Math.round(seconds / 60)} min`;
	return `${Math.round(seconds / 360) / 10} h`;
}

/** @param {number} n @param {string} one @param {string} [many] */
export const count = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A state's badge, coloured by what it means: good, under way, bad or stopped. @param {{state: string}} props */
export function State({ state }) {
	const tone = ({
		valid: "good", complete: "good",
		downloading: "busy", activating: "busy", running: "busy", checked: "busy", scheduled: "quiet",
		"rolled-back": "bad", rejected: "bad", interrupted: "warn", halted: "bad", aborted: "bad",
		paused: "warn",
		"config-valid": "good", "config-trying": "busy", "config-rejected": "bad", "config-rolled-back": "bad", "config-interrupted": "warn",
	})[state] ?? "quiet";
	return html`<span class=${`badge ${tone}`}>${state}</span>`;
}

/** What went wrong, in words. @param {{error: import("./api.js").ApiError | undefined, what?: string}} props */
export function Problem({ error, what }) {
	if (!error)
		return null;
	const why = error.status === 0 ? "the server did not answer" : `${error.error}${error.detail ? `: ${error.detail}` : ""} (HTTP ${error.status})`;
	return html`<p class="problem" role="alert">${what ? `${what}: ` : ""}${why}</p>`;
}

/** When a live view last heard from the server. @param {{live: import("./live.js").Live<unknown>}} props */
export function Freshness({ live }) {
	if (live.error && live.at)
		return html`<p class="freshness stale" aria-live="polite">Not updated since ${clock(live.at)}</p>`;
	if (!live.at)
		return html`<p class="freshness" aria-live="polite">Loading…</p>`;
	return html`<p class="freshness" title="The page asks the server every 2 seconds while it is shown">Live · updated ${clock(live.at)}</p>`;
}

/** The four parts of a stage or a rollout, in the bar's order. */
export const PARTS = /** @type {const} */ ([
	["succeeded", "succeeded"],
	["inProgress", "in progress"],
	["failed", "failed"],
	["waiting", "waiting"],
]);

/**
 * A stacked bar of succeeded, in progress, failed and waiting, with the numbers beside it in words (the bar is
 * drawn for the eye; its label and the legend say the same for everyone).
 * @param {{counts: {succeeded: number, inProgress: number, failed: number, waiting: number}, label: string}} props
 */
export function Bar({ counts, label }) {
	const total = counts.succeeded + counts.inProgress + counts.failed + counts.waiting;
	const words = PARTS.map(([key, name]) => `${counts[key]} ${name}`).join(", ");
	return html`
		<div class="bar-block">
			<div class="bar" role="img" aria-label=${`${label}: ${words} of ${total}`}>
				${total === 0 ? html`<span class="part empty"></span>` : PARTS.map(([key]) => counts[key] > 0 &&
					html`<span class=${`part ${key}`} style=${{ flexGrow: String(counts[key]) }}></span>`)}
			</div>
			<ul class="legend">
				${PARTS.map(([key, name]) => html`<li class=${key}><span class="swatch"></span><b>${counts[key]}</b> ${name}</li>`)}
			</ul>
		</div>`;
}
