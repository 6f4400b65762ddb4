// The fleet page's files, served by the management server: GET / is the page (./page/index.html), GET /page/<name>
// its scripts and style (./page/) and the front-end library it is written with (preact and htm, as their ES modules
// from node_modules, which the page's import map names "preact", "preact/hooks", "htm" and "htm/preact"). The page
// loads without a token; every API call it makes sends the admin token the person types in.
// Only the files of a fixed list are served, read once at the first request: no part of a URL reaches the file
// system. Each answer carries a strict Content-Security-Policy (scripts from this server only, plus the inline import
// map by its SHA-256, computed here from index.html), nosniff, and a strong ETag for If-None-Match.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository: this module runs as build/js/tools/server/page.js. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const PAGE = resolve(ROOT, "tools/server/page");
const MODULES = resolve(ROOT, "node_modules");

const TYPES: Record<string, string> = {
	html: "text/html; charset=utf-8",
	js: "text/javascript; charset=utf-8",
	mjs: "text/javascript; charset=utf-8",
	css: "text/css; charset=utf-8",
	svg: "image/svg+xml",
	map: "application/json; charset=utf-8",
};

/** URL path -> file. The vendored modules keep their own names where the import map and their source maps expect them. */
const FILES: Record<string, string> = {
	"/": resolve(PAGE, "index.html"),
	"/page/app.js": resolve(PAGE, "app.js"),
	"/page/api.js": resolve(PAGE, "api.js"),
	"/page/live.js": resolve(PAGE, "live.js"),
	"/page/format.js": resolve(PAGE, "format.js"),
	"/page/fleet.js": resolve(PAGE, "fleet.js"),
	"/page/device.js": resolve(PAGE, "device.js"),
	"/page/rollouts.js": resolve(PAGE, "rollouts.js"),
	"/page/config.js": resolve(PAGE, "config.js"),
	"/page/style.css": resolve(PAGE, "style.css"),
	"/page/icon.svg": resolve(PAGE, "icon.svg"),
	// the admin API's paths, compiled beside this module: the page builds its URLs where the server's are typed
	"/page/admin-api.js": resolve(dirname(fileURLToPath(import.meta.url)), "admin-api.js"),
	"/page/vendor/preact/preact.mjs": resolve(MODULES, "preact/dist/preact.mjs"),
	"/page/vendor/preact/preact.mjs.map": resolve(MODULES, "preact/dist/preact.mjs.map"),
	"/page/vendor/preact/hooks.mjs": resolve(MODULES, "preact/hooks/dist/hooks.mjs"),
	"/page/vendor/preact/hooks.mjs.map": resolve(MODULES, "preact/hooks/dist/hooks.mjs.map"),
	"/page/vendor/htm/htm.mjs": resolve(MODULES, "htm/dist/htm.module.js"),
	"/page/vendor/htm/preact.mjs": resolve(MODULES, "htm/preact/index.module.js"),
};

interface PageFile {
	body: Buffer;
	type: string;
	etag: string;
}

interface Page {
	files: Map<string, PageFile>;
	policy: string;
}

let loaded: Page | undefined;

/** The inline import map of index.html, exactly as the browser hashes it (the text between the tags). */
export function importMapOf(html: string): string {
	const found = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
	if (!found)
		throw new Error("the fleet page's index.html has no inline import map");
	return found[1]!;
}

/** The page's Content-Security-Policy: nothing but this server, and the import map by its hash. */
export function pagePolicy(importMap: string): string {
	const hash = createHash("sha256").update(importMap, "utf8").digest("base64");
	return [
		"default-src 'none'",
		`script-src 'self' 'sha256-${hash}'`,
		"style-src 'self'",
		"img-src 'self'",
		"connect-src 'self'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	].join("; ");
}

function load(): Page {
	const files = new Map<string, PageFile>();
	for (const [path, file] of Object.entries(FILES)) {
		const body = readFileSync(file);
		const type = TYPES[file.slice(file.lastIndexOf(".") + 1)];
		if (!type)
			throw new Error(`no content type for ${file}`);
		files.set(path, { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` });
	}
	return { files, policy: pagePolicy(importMapOf(files.get("/")!.body.toString("utf8"))) };
}

/** Whether a request is the page's: GET or HEAD of / or of /page/... */
export function isPageRequest(method: string | undefined, pathname: string): boolean {
	return (method === "GET" || method === "HEAD") && (pathname === "/" || pathname.startsWith("/page/"));
}

/** Answers a request for the page or one of its files (see isPageRequest); false when it is not one, so the caller
 * goes on with its own routes. */
export function servePage(request: IncomingMessage, response: ServerResponse, pathname: string): boolean {
	if (!isPageRequest(request.method, pathname))
		return false;
	loaded ??= load();
	const file = loaded.files.get(pathname);
	const headers: Record<string, string | number> = {
		"content-security-policy": loaded.policy,
		"x-content-type-options": "nosniff",
		"referrer-policy": "no-referrer",
		"x-frame-options": "DENY",
	};
	if (!file) {
		const body = `no such file: ${pathname}\n`;
		response.writeHead(404, { ...headers, "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
		response.end(request.method === "HEAD" ? undefined : body);
		return true;
	}
	// Revalidated each time (no-cache): a new server brings a new page at once, and an unchanged file costs a 304.
	Object.assign(headers, { etag: file.etag, "cache-control": "no-cache" });
	const match = request.headers["if-none-match"];
	if (match !== undefined && match.split(",").some((tag) => tag.trim().replace(/^W\//, "") === file.etag)) {
		response.writeHead(304, headers);
		response.end();
		return true;
	}
	response.writeHead(200, { ...headers, "content-type": file.type, "content-length": file.body.length });
	response.end(request.method === "HEAD" ? undefined : file.body);
	return true;
}
