// The fleet page's only way to the server: the admin API (../admin-api.ts) with the admin token as a bearer token.
// Answers are JSON; an error answer becomes an ApiError with the server's {error, detail} and its status, so the
// views can say what went wrong (a 401 sends the person back to the token form: see app.js).

/** @typedef {import("../admin-api.ts").FleetSummary} FleetSummary */
/** @typedef {import("../admin-api.ts").RolloutView} RolloutView */
/** @typedef {import("../admin-api.ts").RolloutAction} RolloutAction */
/** @typedef {import("../store/store.ts").DeviceRow} DeviceRow */
/** @typedef {import("../store/store.ts").ReportRow} ReportRow */
/** @typedef {import("../admin-api.ts").DeviceListRow} DeviceListRow */
/** @typedef {import("../admin-api.ts").DeviceConfigView} DeviceConfigView */
/** @typedef {import("../admin-api.ts").ConfigDocView} ConfigDocView */

import { adminPaths } from "xs-fota/admin-api";

/** The admin API's paths, from ../admin-api.ts itself (served compiled, named in the import map); the device list
 * takes its filters as a query, and a rollout's id comes from the page's address as text. */
export const paths = {
	...adminPaths,
	/** @param {URLSearchParams} [query] */
	devices: (query) => `${adminPaths.devices()}${query && String(query) ? `?${query}` : ""}`,
	/** @param {number | string} id */
	rollout: (id) => adminPaths.rollout(Number(id)),
};

export class ApiError extends Error {
	/** @param {number} status @param {string} error @param {string} [detail] */
	constructor(status, error, detail) {
		super(detail ? `${error}: ${detail}` : error);
		this.status = status;
		this.error = error;
		this.detail = detail;
	}
}

/** A token as the server takes it (server.ts: Bearer [A-Za-z0-9_-]{1,128}). */
export const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Calls the admin API; resolves to the JSON answer, rejects with an ApiError (status 0 when the server is not reached).
 * @param {string} token
 * @param {string} path
 * @param {{method?: string, body?: unknown, signal?: AbortSignal}} [options]
 */
export async function call(token, path, options = {}) {
	/** @type {Record<string, string>} */
	const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
	if (options.body !== undefined)
		headers["content-type"] = "application/json";
	let response;
	try {
		response = await fetch(path, {
			method: options.method ?? "GET",
			headers,
			body: options.body === undefined ? undefined : JSON.stringify(options.body),
			signal: options.signal,
			cache: "no-store",
		});
	} catch (error) {
		if (/** @type {Error} */ (error).name === "AbortError")
			throw error;
		throw new ApiError(0, "unreachable", "the server did not answer");
	}
	const text = await response.text();
	let body;
	try {
		body = text ? JSON.parse(text) : undefined;
	} catch {
		throw new ApiError(response.status, "bad-answer", `HTTP ${response.status}, not JSON`);
	}
	if (!response.ok)
		throw new ApiError(response.status, body?.error ?? `http-${response.status}`, body?.detail);
	return body;
}
