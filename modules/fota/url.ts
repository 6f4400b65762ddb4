// URL joining without the URL class, which XS does not have: enough for https URLs of our server.
// The patterns are module constants: XS compiles a RegExp literal each time its expression runs, so one inside a
// function would be compiled again on every check (README, "Memory").
const ABSOLUTE = /^https:\/\/[^/\s]+/;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const QUERY_OR_FRAGMENT = /[?#]/;
const PLAIN_HTTPS = /^https:\/\/([^/?#@\s:]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?([/?][^#\s]*)?$/;

/** Resolves ref against base: absolute https URLs as they are, "/path" against base's origin, else against its folder. */
export function resolveUrl(base: string, ref: string): string {
	if (SCHEME.test(ref)) {
		if (!ABSOLUTE.test(ref))
			throw new TypeError(`only https URLs are allowed: ${ref}`);
		return ref;
	}
	const origin = ABSOLUTE.exec(base);
	if (!origin)
		throw new TypeError(`not an https URL: ${base}`);
	if (ref.startsWith("//"))
		throw new TypeError(`scheme-relative URLs are not allowed: ${ref}`);
	if (ref.startsWith("/"))
		return origin[0] + ref;
	// the usual case, a plain name beside the base (a manifest's image): the base up to its last slash, and the name,
	// without splitting paths into arrays (README, "Memory"); any dot segment takes the general way below
	const from = origin[0].length;
	let end = base.indexOf("?", from);
	const hash = base.indexOf("#", from);
	if (end < 0 || (hash >= 0 && hash < end))
		end = hash < 0 ? base.length : hash;
	const slash = end > from ? base.lastIndexOf("/", end - 1) : -1;
	if (slash >= from && ref !== "." && ref !== ".." && ref.indexOf("/") < 0 && base.indexOf("/.", from) < 0)
		return base.slice(0, slash + 1) + ref;
	const path = base.slice(from).split(QUERY_OR_FRAGMENT)[0] ?? "";
	const folder = path.slice(0, path.lastIndexOf("/") + 1) || "/";
	const parts: string[] = [];
	for (const part of (folder + ref).split("/").slice(1)) {
		if (part === "..")
			parts.pop();
		else if (part !== ".")
			parts.push(part);
	}
	return `${origin[0]}/${parts.join("/")}`;
}

export interface HttpsTarget { host: string; port: number; path: string; }

/** Splits an https URL into host, port (443 by default) and path with query, for HTTP clients that take them apart
 * (Moddable's `http` Request). Throws a TypeError for anything but a plain https URL: no user info, a numeric port. */
export function splitHttpsUrl(url: string): HttpsTarget {
	const match = PLAIN_HTTPS.exec(url);
	if (!match)
		throw new TypeError(`not a plain https URL: ${url}`);
	const port = match[2] === undefined ? 443 : Number(match[2]);
	if (port < 1 || port > 65535)
		throw new TypeError(`bad port in ${url}`);
	const path = match[3] ?? "/";
	return { host: match[1], port, path: path.startsWith("?") ? "/" + path : path };
}
