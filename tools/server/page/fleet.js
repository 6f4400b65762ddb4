// The fleet view: how many devices run which product, version and state (GET /v1/admin/fleet), and the table of
// devices (GET /v1/admin/devices) filtered by product, version and state, searched, a page at a time, with each
// device's last error. The filters live in the address (#/?product=…&state=…), so a filtered view can be shared, and
// survives a visit to a device and the way back.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { paths } from "./api.js";
import { count, Freshness, Problem, State, when } from "./format.js";
import { useLive } from "./live.js";
import { ConfigCell, ConfigDocs } from "./config.js";

/** Devices a page of the table shows. */
export const PAGE_ROWS = 50;
/** The states a device reports (modules/fota/protocol.ts REPORT_STATES), offered in the filter even when none has them yet. */
const STATES = ["downloading", "activating", "valid", "rejected", "rolled-back", "interrupted",
	"config-trying", "config-valid", "config-rejected", "config-rolled-back", "config-interrupted"];
const FILTERS = /** @type {const} */ (["product", "version", "state", "search"]);

/** @typedef {import("./api.js").FleetSummary} FleetSummary */
/** @typedef {import("./api.js").DeviceListRow} DeviceRow */

/** @param {Record<string, number>} counts @returns {[string, number][]} most first, then by name */
const ranked = (counts) => Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b, undefined, { numeric: true }));

/**
 * @param {{query: URLSearchParams, setQuery: (query: URLSearchParams) => void}} props
 */
export function Fleet({ query, setQuery }) {
	/** @type {import("./live.js").Live<FleetSummary>} */
	const summary = useLive(paths.fleet());
	/** Sets some filters (an empty value clears one) and goes back to the first page. @param {Record<string, string>} changes */
	const filter = (changes) => {
		const next = new URLSearchParams(query);
		for (const [name, value] of Object.entries(changes))
			value ? next.set(name, value) : next.delete(name);
		next.delete("page");
		setQuery(next);
	};
	return html`
		<section aria-labelledby="summary-title">
			<div class="heading">
				<h2 id="summary-title">Fleet</h2>
				<${Freshness} live=${summary} />
			</div>
			<${Problem} error=${summary.error} what="The fleet's counts" />
			${summary.data && html`<${Summary} summary=${summary.data} query=${query} filter=${filter} />`}
		</section>
		<${Devices} query=${query} filter=${filter} setQuery=${setQuery} summary=${summary.data} />
		<${ConfigDocs} />`;
}

/** @param {{summary: FleetSummary, query: URLSearchParams, filter: (changes: Record<string, string>) => void}} props */
function Summary({ summary, query, filter }) {
	if (summary.products.length === 0)
		return html`<p class="empty">No device has reported yet.</p>`;
	/** A count that filters the table when pressed. @param {{name: string, field: "version" | "state", product: string, n: number}} props */
	const Chip = ({ name, field, product, n }) => {
		const pressed = query.get("product") === product && query.get(field) === name;
		const other = field === "version" ? "state" : "version";
		return html`<li><button type="button" class="chip" aria-pressed=${pressed}
			onClick=${() => filter(pressed ? { [field]: "" } : { product, [field]: name, [other]: "" })}>
			${field === "state" ? html`<${State} state=${name} />` : html`<span class="version">${name}</span>`} <b>${n}</b></button></li>`;
	};
	return html`
		<p class="total"><b>${summary.devices}</b> ${summary.devices === 1 ? "device" : "devices"} in ${count(summary.products.length, "product")}</p>
		<div class="cards">
			${summary.products.map((p) => html`
				<article class="card product" aria-label=${`product ${p.product}`}>
					<h3><button type="button" class="link" onClick=${() => filter({ product: p.product, version: "", state: "" })}>${p.product}</button>
						<span class="count">${count(p.devices, "device")}</span></h3>
					<h4>By version</h4>
					<ul class="chips" aria-label=${`${p.product} by version`}>
						${ranked(p.versions).map(([name, n]) => html`<${Chip} key=${name} name=${name} field="version" product=${p.product} n=${n} />`)}
					</ul>
					<h4>By state</h4>
					<ul class="chips" aria-label=${`${p.product} by state`}>
						${ranked(p.states).map(([name, n]) => html`<${Chip} key=${name} name=${name} field="state" product=${p.product} n=${n} />`)}
					</ul>
				</article>`)}
		</div>`;
}

/**
 * @param {{query: URLSearchParams, filter: (changes: Record<string, string>) => void, setQuery: (query: URLSearchParams) => void,
 *   summary: FleetSummary | undefined}} props
 */
function Devices({ query, filter, setQuery, summary }) {
	const page = Math.max(0, Number.parseInt(query.get("page") ?? "0", 10) || 0);
	const asked = new URLSearchParams();
	for (const name of FILTERS) {
		const value = query.get(name);
		if (value)
			asked.set(name, value);
	}
	asked.set("limit", String(PAGE_ROWS + 1)); // one more than shown: whether there is a next page
	asked.set("offset", String(page * PAGE_ROWS));
	/** @type {import("./live.js").Live<DeviceRow[]>} */
	const devices = useLive(paths.devices(asked));
	const rows = devices.data?.slice(0, PAGE_ROWS);
	const more = (devices.data?.length ?? 0) > PAGE_ROWS;
	const product = query.get("product") ?? "";
	const products = summary?.products ?? [];
	const versions = [...new Set(products.filter((p) => !product || p.product === product).flatMap((p) => Object.keys(p.versions)))]
		.sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
	const states = [...new Set([...STATES, ...products.flatMap((p) => Object.keys(p.states))])];
	/** keeps a filter's current value among the options, even when the summary does not list it (yet) */
	const options = (/** @type {string[]} */ list, /** @type {string} */ name) => {
		const value = query.get(name);
		return value && !list.includes(value) ? [value, ...list] : list;
	};
	const goTo = (/** @type {number} */ n) => {
		const next = new URLSearchParams(query);
		n > 0 ? next.set("page", String(n)) : next.delete("page");
		setQuery(next);
	};
	const filtered = FILTERS.some((name) => query.get(name));
	return html`
		<section aria-labelledby="devices-title">
			<div class="heading">
				<h2 id="devices-title">Devices</h2>
				<${Freshness} live=${devices} />
			</div>
			<form class="filters" role="search" onSubmit=${(/** @type {Event} */ e) => e.preventDefault()}>
				<${Search} value=${query.get("search") ?? ""} onSearch=${(/** @type {string} */ search) => filter({ search })} />
				<div class="field"><label for="filter-product">Product</label>
					<select id="filter-product" value=${product} onChange=${(/** @type {any} */ e) => filter({ product: e.currentTarget.value, version: "" })}>
						<option value="">all</option>
						${options(products.map((p) => p.product), "product").map((name) => html`<option value=${name}>${name}</option>`)}
					</select></div>
				<div class="field"><label for="filter-version">Version</label>
					<select id="filter-version" value=${query.get("version") ?? ""} onChange=${(/** @type {any} */ e) => filter({ version: e.currentTarget.value })}>
						<option value="">all</option>
						${options(versions, "version").map((name) => html`<option value=${name}>${name}</option>`)}
					</select></div>
				<div class="field"><label for="filter-state">State</label>
					<select id="filter-state" value=${query.get("state") ?? ""} onChange=${(/** @type {any} */ e) => filter({ state: e.currentTarget.value })}>
						<option value="">all</option>
						${options(states, "state").map((name) => html`<option value=${name}>${name}</option>`)}
					</select></div>
				${filtered && html`<button type="button" class="secondary" onClick=${() => setQuery(new URLSearchParams())}>Clear filters</button>`}
			</form>
			<${Problem} error=${devices.error} what="The devices" />
			${rows && rows.length === 0 && html`<p class="empty">${filtered ? "No device matches these filters." : "No device has reported yet."}</p>`}
			${rows && rows.length > 0 && html`
				<table class="devices" aria-busy=${devices.stale}>
					<caption class="visually-hidden">Devices${filtered ? ", filtered" : ""}, page ${page + 1}</caption>
					<thead><tr><th scope="col">Device</th><th scope="col">Product</th><th scope="col">Version</th><th scope="col">State</th>
						<th scope="col">Config</th><th scope="col">Last seen</th><th scope="col">Last error</th></tr></thead>
					<tbody>
						${rows.map((d) => html`
							<tr key=${d.deviceId} data-device=${d.deviceId}>
								<th scope="row" data-label="Device"><a href=${`#/devices/${encodeURIComponent(d.deviceId)}`}>${d.deviceId}</a>
									${d.revoked && html` <span class="badge bad">revoked</span>`}</th>
								<td data-label="Product">${d.product}</td>
								<td data-label="Version"><span class="version">${d.version}</span>${d.target && d.target !== d.version && html` → <span class="version">${d.target}</span>`}</td>
								<td data-label="State"><${State} state=${d.state} /></td>
								<td data-label="Config" class="config-cell"><${ConfigCell} sequence=${d.configSequence} source=${d.configSource} pending=${d.configPending} /></td>
								<td data-label="Last seen">${when(d.lastSeen)}</td>
								<td data-label="Last error" class="error-text">${d.lastError ?? ""}</td>
							</tr>`)}
					</tbody>
				</table>`}
			${rows && (page > 0 || more) && html`
				<nav class="pager" aria-label="Pages of devices">
					<button type="button" class="secondary" disabled=${page === 0} onClick=${() => goTo(page - 1)}>Previous</button>
					<span>Devices ${page * PAGE_ROWS + 1}–${page * PAGE_ROWS + rows.length}</span>
					<button type="button" class="secondary" disabled=${!more} onClick=${() => goTo(page + 1)}>Next</button>
				</nav>`}
		</section>`;
}

/** The search box: it filters as the person types, once they pause. @param {{value: string, onSearch: (value: string) => void}} props */
function Search({ value, onSearch }) {
	const [text, setText] = useState(value);
	useEffect(() => setText(value), [value]);
	useEffect(() => {
		if (text.trim() === value)
			return;
		const timer = setTimeout(() => onSearch(text.trim()), 300);
		return () => clearTimeout(timer);
	}, [text]);
	return html`<div class="field search"><label for="filter-search">Search</label>
		<input id="filter-search" type="search" value=${text} placeholder="a device id or an error" maxlength="128" autocomplete="off"
			onInput=${(/** @type {any} */ e) => setText(e.currentTarget.value)} /></div>`;
}
