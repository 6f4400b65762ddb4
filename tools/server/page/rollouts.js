// The rollouts: the list (GET /v1/admin/rollouts, newest first) and one rollout (GET /v1/admin/rollouts/<id>): its
// state and the cause of it (in a banner when it halted itself), what it waits for, each stage as a stacked bar of
// succeeded, in progress, failed and waiting devices, the thresholds, the failures' reasons, every state change, and
// the buttons the state allows (pause, resume, abort: POST /v1/admin/rollouts/<id>/<action>). Live like every view.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { ApiError, call, paths } from "./api.js";
import { Bar, count, duration, Freshness, percent, Problem, State, when } from "./format.js";
import { useLive, useSession } from "./live.js";

/** @typedef {import("./api.js").RolloutView} RolloutView */
/** @typedef {import("./api.js").RolloutAction} RolloutAction */

/** What each action does, and the states it applies to (../rollouts.ts decides; these only choose the buttons). */
const ACTIONS = /** @type {const} */ ([
	{ action: "pause", label: "Pause", states: ["scheduled", "running"] },
	{ action: "resume", label: "Resume", states: ["paused", "halted"] },
	{ action: "abort", label: "Abort…", states: ["scheduled", "running", "paused", "halted"] },
]);

/** @param {RolloutView} r */
const title = (r) => `#${r.id} ${r.product} → ${r.version}`;

export function Rollouts() {
	/** @type {import("./live.js").Live<RolloutView[]>} */
	const live = useLive(paths.rollouts());
	return html`
		<section aria-labelledby="rollouts-title">
			<div class="heading">
				<h2 id="rollouts-title">Rollouts</h2>
				<${Freshness} live=${live} />
			</div>
			<${Problem} error=${live.error} what="The rollouts" />
			${live.data && live.data.length === 0 && html`<p class="empty">No rollout yet. Start one with <code>xs-fota rollout</code>.</p>`}
			${live.data && live.data.length > 0 && html`
				<ul class="cards rollouts">
					${live.data.map((r) => html`
						<li key=${r.id} class=${`card rollout ${r.state}`}>
							<h3><a href=${`#/rollouts/${r.id}`}>${title(r)}</a> <${State} state=${r.state} /></h3>
							<p class="cause">${r.cause}</p>
							<${Bar} counts=${r.totals} label=${`Rollout ${r.id}, ${count(r.totals.devices, "device")}`} />
							<p class="meta">Stage ${r.opened + 1} of ${r.stages.length} open · created ${when(r.createdAt)}</p>
						</li>`)}
				</ul>`}
		</section>`;
}

/** @param {{id: string}} props */
export function Rollout({ id }) {
	/** @type {import("./live.js").Live<RolloutView>} */
	const live = useLive(paths.rollout(id));
	const r = live.data;
	return html`
		<section aria-labelledby="rollout-title">
			<p class="back"><a href="#/rollouts">← Rollouts</a></p>
			<div class="heading">
				<h2 id="rollout-title">Rollout ${r ? title(r) : `#${id}`}</h2>
				<${Freshness} live=${live} />
			</div>
			<${Problem} error=${live.error} what="This rollout" />
			${r && html`<${RolloutDetail} r=${r} refresh=${live.refresh} />`}
		</section>`;
}

/** @param {{r: RolloutView, refresh: () => void}} props */
function RolloutDetail({ r, refresh }) {
	const t = r.thresholds;
	return html`
		<div class=${`status ${r.state}`} role="status" aria-live="polite">
			<p class="state-line"><${State} state=${r.state} /> <span class="cause">${r.cause}</span></p>
			${r.waiting && html`<p class="waits-for">Waiting: ${r.waiting}</p>`}
			${r.windows.length > 0 && html`<p class="window">${r.windowOpen ? "A maintenance window is open" : `Outside the maintenance windows; the next opens ${when(r.nextWindow)}`}</p>`}
		</div>
		<${Actions} r=${r} refresh=${refresh} />
		<h3>All devices</h3>
		<${Bar} counts=${r.totals} label=${`All ${count(r.totals.devices, "device")} of the rollout`} />
		<h3>Stages</h3>
		<ol class="stages">
			${r.stages.map((s, i) => html`
				<li key=${i} class=${s.opened ? "stage opened" : "stage closed"} aria-label=${`stage ${i + 1}`}>
					<p class="stage-title"><b>Stage ${i + 1}</b> · ${percent(s.share)} of the target · ${count(s.devices, "device")}
						<span class="meta">${s.opened ? `opened ${when(s.openedAt)}` : "not opened"}</span></p>
					<${Bar} counts=${s} label=${`Stage ${i + 1}`} />
				</li>`)}
		</ol>
		<div class="columns">
			<div>
				<h3>Thresholds</h3>
				<dl class="facts">
					<div><dt>Next stage opens at</dt><dd>${percent(t.success)} of a stage succeeded</dd></div>
					<div><dt>Halts above</dt><dd>${percent(t.error)} failed, once ${count(t.minDevices, "device")} finished</dd></div>
					<div><dt>Soak</dt><dd>${t.soakSeconds > 0 ? `each stage stays open ${duration(t.soakSeconds)} at least` : "none"}</dd></div>
					<div><dt>Timeout</dt><dd>a device that does not finish in ${duration(t.timeoutSeconds)} counts as failed</dd></div>
					<div><dt>Target</dt><dd>${r.product}${r.filter.versions?.length ? `, devices on ${r.filter.versions.join(", ")}` : ""}${r.filter.devices?.length ? `, ${count(r.filter.devices.length, "listed device")}` : ""}</dd></div>
					${r.startAt && html`<div><dt>Starts</dt><dd>${when(r.startAt)}</dd></div>`}
				</dl>
			</div>
			<div>
				<h3 id="failures-title">Failures</h3>
				${r.failures.length === 0 ? html`<p class="empty">No failure.</p>` : html`
					<table class="failures" aria-labelledby="failures-title">
						<thead><tr><th scope="col">Reason</th><th scope="col">Devices</th></tr></thead>
						<tbody>${r.failures.map((f) => html`<tr key=${f.reason}><td class="error-text">${f.reason}</td><td class="number">${f.count}</td></tr>`)}</tbody>
					</table>`}
			</div>
		</div>
		${r.events && html`
			<h3>State changes</h3>
			<ol class="events">
				${[...r.events].reverse().map((e, i) => html`<li key=${i}><time datetime=${e.at}>${when(e.at)}</time> <${State} state=${e.state} /> <span>${e.cause}</span></li>`)}
			</ol>`}`;
}

/** The buttons the rollout's state allows; abort asks once more. @param {{r: RolloutView, refresh: () => void}} props */
function Actions({ r, refresh }) {
	const { token, unauthorized } = useSession();
	const [busy, setBusy] = useState(/** @type {RolloutAction | null} */ (null));
	const [confirming, setConfirming] = useState(false);
	const [error, setError] = useState(/** @type {ApiError | undefined} */ (undefined));
	const allowed = ACTIONS.filter((a) => /** @type {readonly string[]} */ (a.states).includes(r.state));
	if (allowed.length === 0)
		return null;
	/** @param {RolloutAction} action */
	const act = async (action) => {
		setBusy(action);
		setError(undefined);
		try {
			await call(token, paths.rolloutAction(r.id, action), { method: "POST" });
			setConfirming(false);
			refresh();
		} catch (failure) {
			const problem = failure instanceof ApiError ? failure : new ApiError(0, "failed", String(failure));
			if (problem.status === 401)
				return unauthorized(problem);
			setError(problem);
		} finally {
			setBusy(null);
		}
	};
	return html`
		<div class="actions" aria-label="Operations">
			${allowed.map((a) => a.action === "abort"
				? html`<button type="button" class="danger" disabled=${busy !== null || confirming} onClick=${() => setConfirming(true)}>${a.label}</button>`
				: html`<button type="button" disabled=${busy !== null} onClick=${() => act(a.action)}>${busy === a.action ? `${a.label}…` : a.label}</button>`)}
		</div>
		${confirming && html`
			<div class="confirm" role="alertdialog" aria-labelledby="abort-question">
				<p id="abort-question">Abort rollout #${r.id}? The server stops offering ${r.version} to devices that have not started;
					devices that already run it keep it. This cannot be undone.</p>
				<button type="button" class="danger" disabled=${busy !== null} onClick=${() => act("abort")}>${busy === "abort" ? "Aborting…" : "Abort rollout"}</button>
				<button type="button" class="secondary" disabled=${busy !== null} onClick=${() => setConfirming(false)}>Cancel</button>
			</div>`}
		<${Problem} error=${error} what="The server refused" />`;
}
