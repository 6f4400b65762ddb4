// HTTP byte ranges (RFC 9110 section 14) for one file: a single range, If-Range against a strong ETag.
export type RangeAnswer =
	| { status: 200; start: 0; end: number }
	| { status: 206; start: number; end: number }
	| { status: 416 };

/** end is inclusive. Multiple ranges are answered with the whole file (allowed by the RFC). */
export function answerRange(size: number, range: string | undefined, ifRange: string | undefined, etag: string): RangeAnswer {
	const whole = { status: 200 as const, start: 0 as const, end: size - 1 };
	if (!range)
		return whole;
	if (ifRange !== undefined && ifRange !== etag)
		return whole; // the client's copy is of another version: send the current one whole
	const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
	if (!match || (match[1] === "" && match[2] === ""))
		return whole;
	let start: number, end: number;
	if (match[1] === "") {
		const suffix = Number(match[2]);
		if (suffix === 0)
			return { status: 416 };
		start = Math.max(0, size - suffix);
		end = size - 1;
	}
	else {
		start = Number(match[1]);
		end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
		if (start >= size || end < start)
			return { status: 416 };
	}
	return { status: 206, start, end };
}
