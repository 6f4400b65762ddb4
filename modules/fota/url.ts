// URL joining without the URL class, which XS does not have: enough for https URLs of our server.
const ABSOLUTE = /^https:\/\/[^/\s]+/;

/** Resolves ref against base: absolute https URLs as they are, "/path" against base's origin, else against its folder. */
export function resolveUrl(base: string, ref: string): string {
	if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) {
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
	const path = base.slice(origin[0].length).split(/[?#]/)[0] ?? "";
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
