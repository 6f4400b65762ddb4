// A fake update server behind the Transport port: manifests and images with Range, ETag and If-Range,
// check-in reports, and the faults a real network and a careless server produce.
import type { HttpRequest, ResponseSink, Transport } from "../../../modules/fota/ports.js";

export interface Faults {
	/** end the link after this many body bytes have been sent in total (once) */
	cutAfterBytes?: number;
	/** answer Range requests with 200 and the whole body */
	ignoreRange?: boolean;
	/** answer the manifest with this status and these headers */
	manifestStatus?: { status: number; headers?: Record<string, string> };
	/** the transport cannot reach the server at all */
	unreachable?: boolean;
	/** answer a Range request with at most this many bytes (a shorter 206 than asked, as HTTP allows) */
	shortRange?: number;
	/** answer reports with this status instead of 204 (and do not keep them) */
	reportStatus?: number;
	/** answer image requests with 503 and this Retry-After, in seconds, as a server at its download limit does */
	imageBusySeconds?: number;
}

export class FakeServer implements Transport {
	files = new Map<string, { body: Uint8Array; etag: string }>();
	reports: any[] = [];
	requests: { url: string; headers: Record<string, string> }[] = [];
	faults: Faults = {};
	bytesSent = 0;
	/** body bytes of images only, without manifests */
	imageBytes = 0;
	chunk = 1000;
	/** headers added to every answer for a path (a manifest's x-fota-config-pending) */
	headers = new Map<string, Record<string, string>>();
	/** the hosts this server answers for; a request to another is a host that cannot be reached (empty: any) */
	hosts: string[] = [];
	#etags = 0;

	put(path: string, body: Uint8Array): void {
		this.files.set(path, { body, etag: `"v${++this.#etags}"` });
	}
	request(request: HttpRequest, sink: ResponseSink): { abort(): void } {
		let aborted = false;
		const headers = Object.fromEntries((request.headers ?? []).map(([k, v]) => [k.toLowerCase(), v]));
		this.requests.push({ url: request.url, headers });
		queueMicrotask(() => {
			if (aborted)
				return;
			if (this.faults.unreachable)
				return sink.done("connection refused");
			const host = /^https:\/\/([^/]+)/.exec(request.url)?.[1] ?? "";
			if (this.hosts.length && !this.hosts.includes(host))
				return sink.done(`could not connect to ${host}`);
			const path = request.url.replace(/^https:\/\/[^/]+/, "").split("?")[0]!;
			const extra = this.headers.get(path) ?? {};
			if (request.method === "POST" && this.faults.reportStatus) {
				sink.response(this.faults.reportStatus, {});
				return sink.done();
			}
			if (request.method === "POST") {
				this.reports.push(JSON.parse(request.body ?? "null"));
				sink.response(204, {});
				return sink.done();
			}
			if (path.endsWith("/manifest") && this.faults.manifestStatus) {
				sink.response(this.faults.manifestStatus.status, this.faults.manifestStatus.headers ?? {});
				return sink.done();
			}
			if (this.faults.imageBusySeconds !== undefined && path.includes("/images/")) {
				sink.response(503, { "retry-after": String(this.faults.imageBusySeconds) });
				return sink.done();
			}
			const file = this.files.get(path);
			if (!file) {
				sink.response(404, extra);
				return sink.done();
			}
			let start = 0, status = 200;
			const range = /^bytes=(\d+)-(\d*)$/.exec(headers["range"] ?? "");
			const ifRange = headers["if-range"];
			if (range && !this.faults.ignoreRange && (!ifRange || ifRange === file.etag)) {
				start = Number(range[1]);
				if (start >= file.body.length) {
					sink.response(416, { "content-range": `bytes */${file.body.length}` });
					return sink.done();
				}
				status = 206;
			}
			const end = status === 206 && this.faults.shortRange ? Math.min(file.body.length, start + this.faults.shortRange) : file.body.length;
			const body = file.body.subarray(start, end);
			const isImage = path.includes("/images/");
			sink.response(status, {
				...extra,
				etag: file.etag,
				"content-length": String(body.length),
				...(status === 206 ? { "content-range": `bytes ${start}-${end - 1}/${file.body.length}` } : {}),
			});
			const send = (at: number) => {
				if (aborted)
					return;
				if (at >= body.length)
					return sink.done();
				let piece = body.subarray(at, at + this.chunk);
				const cut = this.faults.cutAfterBytes;
				if (cut !== undefined && this.bytesSent + piece.length > cut) {
					piece = piece.subarray(0, cut - this.bytesSent);
					this.faults.cutAfterBytes = undefined;
					if (piece.length) {
						this.bytesSent += piece.length;
						if (isImage)
							this.imageBytes += piece.length;
						sink.data(piece.slice());
					}
					return sink.done("connection reset by peer");
				}
				this.bytesSent += piece.length;
				if (isImage)
					this.imageBytes += piece.length;
				sink.data(piece.slice());
				setImmediate(() => send(at + piece.length));
			};
			send(0);
		});
		return { abort: () => { aborted = true; } };
	}
}
