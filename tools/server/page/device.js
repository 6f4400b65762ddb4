// One device (GET /v1/admin/devices/<id>): what it runs, its state and last error, its config, and its history,
// newest first (its reports, and "checked" when it fetched its manifest between them). Live like every view.
import { html } from "htm/preact";
import { paths } from "./api.js";
import { Freshness, Problem, State, when } from "./format.js";
import { useLive } from "./live.js";
import { DeviceConfig } from "./config.js";

/** @typedef {import("./api.js").DeviceRow & import("../admin-api.ts").DeviceGateway & {history: import("./api.js").ReportRow[]}} DeviceDetail */

/** @param {{id: string}} props */
export function Device({ id }) {
	/** @type {import("./live.js").Live<DeviceDetail>} */
	const live = useLive(paths.device(id));
	const d = live.data;
	return html`
		<section aria-labelledby="device-title">
			<p class="back"><a href="#/">← Fleet</a></p>
			<div class="heading">
				<h2 id="device-title">Device <span class="mono">${id}</span></h2>
				<${Freshness} live=${live} />
			</div>
			<${Problem} error=${live.error} what="This device" />
			${d && html`
				<dl class="facts">
					<div><dt>Product</dt><dd>${d.product}</dd></div>
					<div><dt>Version</dt><dd><span class="version">${d.version}</span>${d.target && d.target !== d.version && html` → <span class="version">${d.target}</span>`}</dd></div>
					<div><dt>State</dt><dd><${State} state=${d.state} />${d.revoked && html` <span class="badge bad">revoked</span>`}</dd></div>
					<div><dt>Last error</dt><dd class=${d.lastError ? "error-text" : ""}>${d.lastError ?? "none"}</dd></div>
					<div><dt>Behind gateway</dt><dd>${d.gateway ? html`<span class="mono">${d.gateway}</span>` : "none (talks to the cloud)"}</dd></div>
					<div><dt>Last seen</dt><dd>${when(d.lastSeen)}</dd></div>
					<div><dt>First seen</dt><dd>${when(d.firstSeen)}</dd></div>
					<div><dt>Reports</dt><dd>${d.reports}</dd></div>
					<div><dt>Security version, sequence, slot</dt><dd>${[d.securityVersion, d.sequence, d.slot].map((n) => n ?? "—").join(", ")}</dd></div>
					<div><dt>Config</dt><dd>${d.configSha256 ? html`<span class="mono" title=${d.configSha256}>${d.configSha256.slice(0, 16)}…</span>` : "not reported"}
						${d.config && html`<ul class="config">${Object.entries(d.config).map(([name, value]) =>
							html`<li><span class="mono">${name}</span> = ${JSON.stringify(value)}</li>`)}</ul>`}</dd></div>
				</dl>
				<${DeviceConfig} id=${id} />
				<h3 id="history-title">History</h3>
				${d.history.length === 0 ? html`<p class="empty">No history kept.</p>` : html`
					<table class="history" aria-labelledby="history-title">
						<thead><tr><th scope="col">When</th><th scope="col">State</th><th scope="col">Version</th><th scope="col">Error</th></tr></thead>
						<tbody>
							${d.history.map((r) => html`
								<tr key=${r.id}>
									<td data-label="When">${when(r.at)}</td>
									<td data-label="State"><${State} state=${r.state} /></td>
									<td data-label="Version"><span class="version">${r.version}</span>${r.target && r.target !== r.version && html` → <span class="version">${r.target}</span>`}</td>
									<td data-label="Error" class="error-text">${r.error ?? ""}</td>
								</tr>`)}
						</tbody>
					</table>`}`}
		</section>`;
}
