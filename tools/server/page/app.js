// The fleet page's root: the admin token (asked once, kept in this tab's sessionStorage, asked again with the
// server's reason after a 401), the header with the navigation, and the view the address names:
//   #/ (the fleet and its devices, with filters: #/?product=&version=&state=&search=&page=)   #/devices/<id>
//   #/rollouts   #/rollouts/<id>
// Everything is rendered by preact from htm templates: text is never put into HTML by hand.
import { render } from "preact";
import { html } from "htm/preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { TOKEN } from "./api.js";
import { Fleet } from "./fleet.js";
import { Device } from "./device.js";
import { Rollout, Rollouts } from "./rollouts.js";
import { SessionContext, useVisible } from "./live.js";

const TOKEN_KEY = "xs-fota-admin-token";

/** @typedef {{view: "fleet", query: URLSearchParams} | {view: "device", id: string} | {view: "rollouts"} | {view: "rollout", id: string}} Route */

/** @returns {Route} */
function route() {
	const hash = location.hash.replace(/^#/, "") || "/";
	const [path = "/", search = ""] = hash.split("?", 2);
	const parts = path.split("/").filter(Boolean).map((part) => {
		try {
			return decodeURIComponent(part);
		} catch {
			return part;
		}
	});
	if (parts[0] === "devices" && parts[1] !== undefined)
		return { view: "device", id: parts[1] };
	if (parts[0] === "rollouts")
		return parts[1] !== undefined ? { view: "rollout", id: parts[1] } : { view: "rollouts" };
	return { view: "fleet", query: new URLSearchParams(search) };
}

function readToken() {
	try {
		return sessionStorage.getItem(TOKEN_KEY) ?? "";
	} catch {
		return "";
	}
}

function App() {
	const [token, setToken] = useState(readToken);
	const [refused, setRefused] = useState(/** @type {string | null} */ (null));
	const [where, setWhere] = useState(route);
	const visible = useVisible();
	useEffect(() => {
		const moved = () => setWhere(route());
		addEventListener("hashchange", moved);
		return () => removeEventListener("hashchange", moved);
	}, []);
	const forget = useCallback((/** @type {string | null} */ reason) => {
		sessionStorage.removeItem(TOKEN_KEY);
		setToken("");
		setRefused(reason);
	}, []);
	const session = useMemo(() => ({
		token,
		unauthorized: (/** @type {import("./api.js").ApiError} */ error) =>
			forget(`The server refused the token (HTTP 401: ${error.detail ?? error.error}). Enter a valid admin token.`),
	}), [token]);
	/** Changes the fleet view's filters in place: the address changes, no history entry piles up per keystroke. */
	const setQuery = useCallback((/** @type {URLSearchParams} */ query) => {
		const search = String(query);
		history.replaceState(null, "", search ? `#/?${search}` : "#/");
		setWhere(route());
	}, []);
	if (!token)
		return html`<${Shell}><${TokenForm} refused=${refused} onToken=${(/** @type {string} */ value) => {
			sessionStorage.setItem(TOKEN_KEY, value);
			setRefused(null);
			setToken(value);
		}} /><//>`;
	return html`
		<${SessionContext.Provider} value=${session}>
			<${Shell} nav=${where.view === "rollouts" || where.view === "rollout" ? "rollouts" : "fleet"} visible=${visible}
				onSignOut=${() => forget(null)}>
				${where.view === "fleet" && html`<${Fleet} query=${where.query} setQuery=${setQuery} />`}
				${where.view === "device" && html`<${Device} key=${where.id} id=${where.id} />`}
				${where.view === "rollouts" && html`<${Rollouts} />`}
				${where.view === "rollout" && html`<${Rollout} key=${where.id} id=${where.id} />`}
			<//>
		<//>`;
}

/**
 * The header and the page around a view.
 * @param {{nav?: "fleet" | "rollouts", visible?: boolean, onSignOut?: () => void, children?: any}} props
 */
function Shell({ nav, visible, onSignOut, children }) {
	return html`
		<header class="top">
			<h1><img src="/page/icon.svg" alt="" width="22" height="22" /> xs-fota fleet</h1>
			${nav && html`
				<nav aria-label="Views">
					<a href="#/" aria-current=${nav === "fleet" ? "page" : undefined}>Fleet</a>
					<a href="#/rollouts" aria-current=${nav === "rollouts" ? "page" : undefined}>Rollouts</a>
				</nav>
				${visible === false && html`<span class="paused">Paused while hidden</span>`}
				<button type="button" class="secondary signout" onClick=${onSignOut}>Forget token</button>`}
		</header>
		<main>${children}</main>`;
}

/** @param {{refused: string | null, onToken: (token: string) => void}} props */
function TokenForm({ refused, onToken }) {
	const [value, setValue] = useState("");
	const [problem, setProblem] = useState(/** @type {string | null} */ (null));
	const submit = (/** @type {Event} */ event) => {
		event.preventDefault();
		const token = value.trim();
		if (!TOKEN.test(token))
			return setProblem("A token is 1 to 128 letters, digits, - and _ (as xs-fota admin token create prints it).");
		onToken(token);
	};
	return html`
		<form class="token card" onSubmit=${submit} aria-labelledby="token-title">
			<h2 id="token-title">Sign in with an admin token</h2>
			${refused && html`<p class="problem" role="alert">${refused}</p>`}
			${problem && html`<p class="problem" role="alert">${problem}</p>`}
			<label for="token">Admin token</label>
			<input id="token" name="token" type="password" autocomplete="off" spellcheck=${false} required
				value=${value} onInput=${(/** @type {any} */ e) => setValue(e.currentTarget.value)} />
			<p class="hint">Made by <code>xs-fota admin token create</code>. Kept in this tab only, until you close it.</p>
			<button type="submit">Open the fleet</button>
		</form>`;
}

render(html`<${App} />`, /** @type {HTMLElement} */ (document.getElementById("app")));
