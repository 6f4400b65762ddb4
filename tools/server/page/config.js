// A device's configuration on the fleet page (issue 12): in the device table, the config document each device runs
// (its sequence; "factory" marked when it runs its factory copy) and the one waiting for it; on a device's page,
// what it runs and from which copy (and the copies it lost), its last known good config, the document waiting for
// it, the documents that failed on it, and its config history (GET /v1/admin/devices/<id>/config); on the fleet view,
// the config documents the server holds (GET /v1/admin/configs): for whom, and whether only through a rollout.
import { html } from "htm/preact";
import { paths } from "./api.js";
import { Freshness, Problem, State, when } from "./format.js";
import { useLive } from "./live.js";

/** @typedef {import("./api.js").DeviceConfigView} DeviceConfigView */
/** @typedef {import("./api.js").ConfigDocView} ConfigDocView */

/** The config documents, newest first; nothing while there is none. */
export function ConfigDocs() {
	/** @type {import("./live.js").Live<ConfigDocView[]>} */
	const live = useLive(paths.configs());
	if (!live.error && (!live.data || live.data.length === 0))
		return null;
	return html`
		<section aria-labelledby="configs-title">
			<div class="heading">
				<h2 id="configs-title">Config documents</h2>
				<${Freshness} live=${live} />
			</div>
			<${Problem} error=${live.error} what="The config documents" />
			${live.data && live.data.length > 0 && html`
				<table class="config-docs">
					<thead><tr><th scope="col">Product</th><th scope="col">Document</th><th scope="col">For</th><th scope="col">Given</th><th scope="col">Sets</th><th scope="col">Uploaded</th></tr></thead>
					<tbody>
						${live.data.map((doc) => html`
							<tr key=${`${doc.product}-${doc.sequence}`} data-config=${`${doc.product}/${doc.sequence}`}>
								<td data-label="Product">${doc.product}</td>
								<td data-label="Document"><span class="config-seq">config ${doc.sequence}</span></td>
								<td data-label="For">${doc.devices ? doc.devices.join(", ") : "every device"}</td>
								<td data-label="Given">${doc.staged ? "through a config rollout" : "at the next check"}</td>
								<td data-label="Sets" class="mono">${doc.settings.join(", ")}</td>
								<td data-label="Uploaded">${when(doc.createdAt)}${doc.createdBy ? ` by ${doc.createdBy}` : ""}</td>
							</tr>`)}
					</tbody>
				</table>`}
		</section>`;
}

/** The device table's cell: "config 3", "config 0 factory", and "→ 4" when a document waits for the device.
 * @param {{sequence: number | null, source: string | null, pending: number | null}} props */
export function ConfigCell({ sequence, source, pending }) {
	if (sequence === null)
		return html`<span class="empty">—</span>`;
	return html`<span class="config-seq">config ${sequence}</span>${source === "factory" && html` <span class="badge bad" title="both working copies lost or never written">factory</span>`}${
		pending !== null && html` → <span class="config-seq pending" title="a newer config document waits for this device">config ${pending}</span>`}`;
}

/** The config part of a device's page. @param {{id: string}} props */
export function DeviceConfig({ id }) {
	/** @type {import("./live.js").Live<DeviceConfigView>} */
	const live = useLive(paths.deviceConfig(id));
	const c = live.data;
	return html`
		<section class="device-config" aria-labelledby="config-title">
			<div class="heading">
				<h3 id="config-title">Configuration</h3>
				<${Freshness} live=${live} />
			</div>
			<${Problem} error=${live.error?.status === 404 ? undefined : live.error} what="This device's configuration" />
			${c && html`
				<dl class="config-facts">
					<div><dt>Runs</dt><dd>${c.current && c.current.sequence !== null
						? html`<${ConfigCell} sequence=${c.current.sequence} source=${c.current.source} pending=${null} />${c.current.source && c.current.source !== "factory" ? ` (${c.current.source} copy)` : ""}`
						: "not named yet"}</dd></div>
					${c.current && c.current.lost.length > 0 && html`<div><dt>Lost copies</dt><dd class="error-text">${c.current.lost.join(", ")}</dd></div>`}
					<div><dt>Last known good</dt><dd>${c.lastKnownGood
						? html`config ${c.lastKnownGood.sequence} <span class="mono" title=${c.lastKnownGood.sha256 ?? ""}>${(c.lastKnownGood.sha256 ?? "").slice(0, 12)}</span> · kept ${when(c.lastKnownGood.at)}`
						: "none yet"}</dd></div>
					<div><dt>Pending</dt><dd>${c.pending ? html`<span class="config-seq pending">config ${c.pending.sequence}</span>${c.pending.staged ? " (through a config rollout)" : ""}` : "nothing"}</dd></div>
					${c.failed.length > 0 && html`<div><dt>Failed here</dt><dd>${c.failed.map((f) => html`<div>config ${f.sequence}: <${State} state=${f.state} /> <span class="error-text">${f.reason ?? ""}</span></div>`)}</dd></div>`}
				</dl>
				${c.lastKnownGood?.fields && html`<details><summary>Last known good settings, as the device reported them</summary>
					<ul class="config">${Object.entries(c.lastKnownGood.fields).map(([name, value]) => html`<li><span class="mono">${name}</span> = ${JSON.stringify(value)}</li>`)}</ul></details>`}
				<h4 id="config-history-title">Config history</h4>
				${c.history.length === 0 ? html`<p class="empty">No config history yet.</p>` : html`
					<table class="config-history" aria-labelledby="config-history-title">
						<thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Document</th><th scope="col">Runs</th><th scope="col">Error</th></tr></thead>
						<tbody>
							${c.history.map((h, i) => html`
								<tr key=${`${h.at}-${i}`}>
									<td data-label="When">${when(h.at)}</td>
									<td data-label="What"><${State} state=${h.state === "config" ? "config changed" : h.state} /></td>
									<td data-label="Document">${h.target === null ? "" : `config ${h.target}`}</td>
									<td data-label="Runs">${h.sequence === null ? "" : `config ${h.sequence}`}${h.source === "factory" ? " (factory)" : ""}</td>
									<td data-label="Error" class="error-text">${h.error ?? ""}</td>
								</tr>`)}
						</tbody>
					</table>`}`}
		</section>`;
}
