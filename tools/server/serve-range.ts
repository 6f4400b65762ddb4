// The head of an image response, one way for the management server and the gateway (tools/gateway): Range, a strong
// ETag and If-Range (./range.ts), with 200, 206 or 416 and the matching Content-Range and Content-Length. The caller
// streams the body itself (pacing, counting and admission differ); this says which bytes, if any.
import type { IncomingMessage, ServerResponse } from "node:http";
import { answerRange } from "./range.js";

/** Writes the status and headers for a file of `size` bytes under `etag`; returns the inclusive byte range to send,
 * or undefined when the response is complete already (416, HEAD, an empty file). */
export function writeRangeHead(request: IncomingMessage, response: ServerResponse, size: number, etag: string): { start: number; end: number; status: number } | undefined {
	const ifRange = request.headers["if-range"];
	const answer = answerRange(size, request.headers.range, Array.isArray(ifRange) ? ifRange[0] : ifRange, etag);
	const headers: Record<string, string | number> = { "accept-ranges": "bytes", etag, "content-type": "application/octet-stream", "cache-control": "no-cache" };
	if (answer.status === 416) {
		response.writeHead(416, { ...headers, "content-range": `bytes */${size}` });
		response.end();
		return undefined;
	}
	const length = size === 0 ? 0 : answer.end - answer.start + 1;
	headers["content-length"] = length;
	if (answer.status === 206)
		headers["content-range"] = `bytes ${answer.start}-${answer.end}/${size}`;
	response.writeHead(answer.status, headers);
	if (request.method === "HEAD" || length === 0) {
		response.end();
		return undefined;
	}
	return { start: answer.start, end: answer.end, status: answer.status };
}
