// Semantic Versioning 2.0.0 (https://semver.org): strict parsing and precedence.
// Numeric parts are compared as digit strings, so versions of any size compare exactly.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;
const NUMERIC = /^\d+$/;

interface Parsed {
	core: [string, string, string];
	pre: string[];
}

function parse(version: string): Parsed {
	const match = typeof version === "string" ? SEMVER.exec(version) : null;
	if (!match)
		throw new TypeError(`not a semantic version: ${JSON.stringify(version)}`);
	return { core: [match[1]!, match[2]!, match[3]!], pre: match[4] ? match[4].split(".") : [] };
}

/** True when `version` is a valid semantic version 2.0.0 string. */
export function isSemver(version: unknown): version is string {
	return typeof version === "string" && SEMVER.test(version);
}

function sign(value: number): number {
	return value < 0 ? -1 : value > 0 ? 1 : 0;
}

function compareDigits(a: string, b: string): number {
	return a.length !== b.length ? sign(a.length - b.length) : a < b ? -1 : a > b ? 1 : 0;
}

function compareIdentifier(a: string, b: string): number {
	const numericA = NUMERIC.test(a), numericB = NUMERIC.test(b);
	if (numericA && numericB)
		return compareDigits(a, b);
	if (numericA !== numericB)
		return numericA ? -1 : 1; // numeric identifiers have lower precedence than alphanumeric ones
	return a < b ? -1 : a > b ? 1 : 0;
}

/** -1, 0 or 1 as `a` has lower, equal or higher precedence than `b`; build metadata is ignored. Throws a TypeError for an invalid version. */
export function compareSemver(a: string, b: string): number {
	const x = parse(a), y = parse(b);
	for (let i = 0; i < 3; i++) {
		const order = compareDigits(x.core[i]!, y.core[i]!);
		if (order)
			return order;
	}
	if (!x.pre.length || !y.pre.length)
		return x.pre.length === y.pre.length ? 0 : x.pre.length ? -1 : 1; // a pre-release precedes its release
	for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
		const order = compareIdentifier(x.pre[i]!, y.pre[i]!);
		if (order)
			return order;
	}
	return sign(x.pre.length - y.pre.length);
}
