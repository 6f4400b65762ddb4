// Keeping the page live without reloading it: useLive fetches an admin API path now and every POLL_MS after the
// previous answer, re-renders with each answer, and stops while the tab is hidden (it fetches again as soon as the
// tab shows). The session context carries the token and what to do on a 401 (app.js: back to the token form).
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call } from "./api.js";

export const POLL_MS = 2000;

/** @typedef {{token: string, unauthorized: (error: ApiError) => void}} Session */

/** @type {import("preact").Context<Session>} */
export const SessionContext = createContext(/** @type {Session} */ ({ token: "", unauthorized: () => {} }));

/** @returns {Session} */
export const useSession = () => useContext(SessionContext);

/**
 * @template T
 * @typedef {{data: T | undefined, error: ApiError | undefined, at: Date | undefined, stale: boolean, refresh: () => void}} Live
 */

/**
 * The answer of GET path, kept fresh. `data` stays the last good answer while a later fetch fails (`error` says why),
 * and while the answer of a new path is on its way (`stale`: a filtered table keeps its rows until the new ones come;
 * a view of another thing should be a new component, with a key). A path of null fetches nothing.
 * @template T
 * @param {string | null} path
 * @returns {Live<T>}
 */
export function useLive(path) {
	const { token, unauthorized } = useSession();
	const [state, setState] = useState(/** @type {{data: T | undefined, error: ApiError | undefined, at: Date | undefined, path: string | null}} */ ({ data: undefined, error: undefined, at: undefined, path }));
	const [nonce, setNonce] = useState(0);
	const unauthorizedRef = useRef(unauthorized);
	unauthorizedRef.current = unauthorized;
	useEffect(() => {
		if (path === null)
			return;
		let stopped = false;
		let busy = false;
		/** @type {ReturnType<typeof setTimeout> | undefined} */
		let timer;
		const controller = new AbortController();
		const tick = async () => {
			clearTimeout(timer);
			if (stopped || busy || document.hidden)
				return;
			busy = true;
			try {
				const data = await call(token, path, { signal: controller.signal });
				if (!stopped)
					setState({ data, error: undefined, at: new Date(), path });
			} catch (error) {
				if (stopped || /** @type {Error} */ (error).name === "AbortError")
					return;
				const failure = error instanceof ApiError ? error : new ApiError(0, "failed", String(error));
				if (failure.status === 401)
					return unauthorizedRef.current(failure);
				setState((before) => ({ ...before, error: failure }));
			} finally {
				busy = false;
			}
			if (!stopped && !document.hidden)
				timer = setTimeout(tick, POLL_MS);
		};
		const shown = () => {
			if (!document.hidden)
				tick();
		};
		document.addEventListener("visibilitychange", shown);
		tick();
		return () => {
			stopped = true;
			clearTimeout(timer);
			controller.abort();
			document.removeEventListener("visibilitychange", shown);
		};
	}, [path, token, nonce]);
	const refresh = useCallback(() => setNonce((n) => n + 1), []);
	return { data: state.data, error: state.error, at: state.at, stale: state.path !== path, refresh };
}

/** Whether the tab is shown, kept up to date (the header says when the page stops polling). */
export function useVisible() {
	const [visible, setVisible] = useState(!document.hidden);
	useEffect(() => {
		const changed = () => setVisible(!document.hidden);
		document.addEventListener("visibilitychange", changed);
		return () => document.removeEventListener("visibilitychange", changed);
	}, []);
	return visible;
}
