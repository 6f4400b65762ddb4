// Streams the signed image into the inactive slot with HTTP Range, from the persisted offset.
// Each checkpoint starts on a sector boundary, and a sector is erased just before its first write, so a
// resume re-erases whatever a cut left half-written and loses at most one chunk. Nothing is ever written
// past the signed size, and a server that ignores Range cannot make us write its bytes at the wrong place.
// Before the slot changes, any otadata entry left from the image it held before is invalidated, so the new bytes
// can only ever boot through an activation, into a trial. At the end the slot is read back once (verifySlot): the
// signed SHA-256 and the activation's image check from the same reads, so the activation reads nothing again.
import { TransientError, UpdateRejected } from "./errors.js";
import { fromHex } from "./hex.js";
import type { Progress, Records } from "./records.js";
import { watchTransfer, type TransferLimits } from "./transfer.js";
import { retryAfter } from "./schedule.js";
import type { Clock, EventSink, Flash, Headers, Slot, SlotVerdict, Transport } from "./ports.js";

export interface DownloadPlan {
	url: string;
	sequence: number;
	size: number;
	sha256: string;
	slot: Slot;
	chunkBytes: number;
	timeoutMs: number;
	/** each request's deadline and minimum rate */
	limits: TransferLimits;
}

export interface DownloadPorts {
	transport: Transport;
	flash: Flash;
	events: EventSink;
	clock: Clock;
}

export class ImageChanged extends TransientError {
	override name = "ImageChanged";
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/** The longest ETag kept: it is stored in the download record and sent back in If-Range. */
export const MAX_ETAG = 128;
/** RFC 9110's entity-tag, in ASCII. */
const ENTITY_TAG = /^(W\/)?"[\x21\x23-\x7e]*"$/;

/** An ETag we can keep and send back, or undefined: an oversized or malformed one is not a validator to rely on. */
export function usableEtag(etag: string | undefined): string | undefined {
	return etag !== undefined && etag.length <= MAX_ETAG && ENTITY_TAG.test(etag) ? etag : undefined;
}

function sameImage(progress: Progress | undefined, plan: DownloadPlan): progress is Progress {
	return !!progress && progress.sequence === plan.sequence && progress.sha256 === plan.sha256 &&
		progress.size === plan.size && progress.slot === plan.slot.index &&
		progress.offset >= 0 && progress.offset <= plan.size && (progress.offset % plan.chunkBytes === 0 || progress.offset === plan.size);
}

/** Where the slot stands across the requests of one download: the next byte to write, the end of the erased part. */
interface Cursor { writeFrom: number; erasedTo: number; }

/** How many short 206 answers in a row a download takes before it backs off: each must bring at least a byte. */
export const MAX_SHORT_RANGES = 64;

/** One ranged GET from cursor.writeFrom to the end. Resolves true when the slot holds every byte, false when the
 * server answered a shorter range than asked (HTTP allows it): the caller asks again from where it stopped. */
function fetchRest(ports: DownloadPorts, records: Records, plan: DownloadPlan, progress: Progress, cursor: Cursor): Promise<boolean> {
	const { flash, events } = ports;
	const sector = flash.sectorSize;
	const start = cursor.writeFrom;
	return new Promise((resolve, reject) => {
		let position = 0;          // offset in the image of the next byte the server sends
		let rangeEnd = plan.size;  // one past the last byte this response carries
		let settled = false;
		const finish = (error?: Error, complete = true) => {
			if (settled)
				return;
			settled = true;
			watch.stop();
			if (error) {
				request.abort();
				reject(error);
			}
			else
				resolve(complete);
		};
		const checkpoint = (offset: number) => {
			progress.offset = offset;
			records.progress = progress;
			events("progress", { offset, size: plan.size });
		};
		const onResponse = (status: number, headers: Headers) => {
			const etag = usableEtag(headers["etag"]);
			if (headers["etag"] !== undefined && etag === undefined)
				events("etag-dropped", { length: headers["etag"].length });
			if (status === 206) {
				const range = CONTENT_RANGE.exec(headers["content-range"] ?? "");
				if (!range)
					throw new TransientError(`206 without a valid Content-Range (${headers["content-range"]})`);
				if (Number(range[3]) !== plan.size)
					throw new UpdateRejected("size-mismatch", `server has ${range[3]} bytes, the manifest signs ${plan.size}`);
				if (Number(range[1]) !== start || Number(range[2]) > plan.size - 1 || Number(range[2]) < start)
					throw new TransientError(`Content-Range ${headers["content-range"]} does not match bytes=${start}-${plan.size - 1}`);
				if (start > 0 && progress.etag && etag !== progress.etag)
					return imageChanged();
				position = start;
				rangeEnd = Number(range[2]) + 1;
			}
			else if (status === 200) {
				const length = headers["content-length"];
				if (length !== undefined && Number(length) !== plan.size)
					throw new UpdateRejected("size-mismatch", `server sends ${length} bytes, the manifest signs ${plan.size}`);
				if (start > 0) {
					if (progress.etag && etag !== progress.etag)
						return imageChanged();
					events("restart", { reason: "range-ignored", skip: start });
				}
				position = 0;
			}
			else
				throw new TransientError(`HTTP ${status} for the image`, retryAfter(headers["retry-after"], ports.clock.wall()));
			if (etag)
				progress.etag = etag;
		};
		// The image behind the URL is not the one we were resuming: start over from zero, with the manifest
		// fetched again, since a new image usually means a new release.
		const imageChanged = () => {
			events("restart", { reason: "image-changed", from: progress.offset });
			progress.offset = 0;
			delete progress.etag;
			records.progress = progress;
			throw new ImageChanged("the image changed on the server (new ETag); starting over from zero");
		};
		const onData = (chunk: Uint8Array) => {
			const from = position, end = position + chunk.length;
			position = end;
			if (end > plan.size)
				throw new UpdateRejected("body-too-long", `server sent more than the signed ${plan.size} bytes`);
			if (end > rangeEnd)
				throw new TransientError(`server sent bytes past its Content-Range (${rangeEnd})`);
			if (end <= cursor.writeFrom)
				return;
			const piece = from < cursor.writeFrom ? chunk.subarray(cursor.writeFrom - from) : chunk;
			const at = Math.max(from, cursor.writeFrom);
			while (cursor.erasedTo < at + piece.length) {
				flash.erase(plan.slot, cursor.erasedTo, sector);
				cursor.erasedTo += sector;
			}
			flash.write(plan.slot, at, piece);
			cursor.writeFrom = end;
			const reached = end === plan.size ? end : end - (end % plan.chunkBytes);
			if (reached > progress.offset)
				checkpoint(reached);
		};
		// every event of the response goes through here: after the end, nothing; a throw ends the download. One
		// argument, not rest parameters: a data event must not allocate (an array per call, per chunk, is garbage)
		const guard = <T>(fn: (value: T) => void) => (value: T) => {
			if (settled)
				return;
			try {
				fn(value);
			} catch (error) {
				finish(error as Error);
			}
		};
		const headers: [string, string][] = [["Range", `bytes=${start}-${plan.size - 1}`]];
		if (start > 0 && progress.etag)
			headers.push(["If-Range", progress.etag]);
		const watch = watchTransfer(ports.clock, plan.limits, (why) => finish(new TransientError(`${plan.url} at ${cursor.writeFrom} of ${plan.size} bytes: ${why}`)));
		const onStatus = guard((response: { status: number; headers: Headers }) => onResponse(response.status, response.headers));
		const request = ports.transport.request({ url: plan.url, headers, timeout: plan.timeoutMs }, {
			response: (status: number, headers: Headers) => onStatus({ status, headers }), // once per request
			data: guard((chunk: Uint8Array) => {
				watch.received(chunk.length);
				onData(chunk);
			}),
			done: guard((error?: string) => {
				if (error)
					return finish(new TransientError(`link lost at ${cursor.writeFrom} of ${plan.size} bytes: ${error}`));
				if (cursor.writeFrom < plan.size && cursor.writeFrom === rangeEnd && rangeEnd > start)
					return finish(undefined, false); // a short 206, delivered whole: ask for the rest
				if (cursor.writeFrom < plan.size)
					return finish(new TransientError(`the body ended at ${cursor.writeFrom} of ${plan.size} bytes`));
				finish();
			}),
		});
	});
}

/** Reads the slot back once: its SHA-256 against the manifest's and, from the same pass, the activation's image
 * check. Changes nothing; the flash remembers an accepted slot so that activate need not read it again. */
export function verifySlot(flash: Flash, slot: Slot, size: number, sha256: string): SlotVerdict {
	const expected = fromHex(sha256);
	if (!expected || expected.length !== 32)
		return { ok: false, reason: "digest-mismatch", detail: `${slot.label}: the signed SHA-256 is not 32 bytes of hex` };
	return flash.verify(slot, size, expected);
}

/** Downloads (or resumes) the image into plan.slot and verifies it. Throws TransientError or UpdateRejected. */
export async function downloadImage(ports: DownloadPorts, records: Records, plan: DownloadPlan): Promise<void> {
	let progress = records.progress;
	if (!sameImage(progress, plan)) {
		progress = { sequence: plan.sequence, sha256: plan.sha256, size: plan.size, slot: plan.slot.index, offset: 0 };
		records.progress = progress;
	}
	else if (progress.etag !== undefined && usableEtag(progress.etag) === undefined) {
		// a record from before ETags were bounded: its validator cannot be sent back, so start over cleanly
		ports.events("restart", { reason: "etag-unusable", from: progress.offset });
		progress = { sequence: plan.sequence, sha256: plan.sha256, size: plan.size, slot: plan.slot.index, offset: 0 };
		records.progress = progress;
	}
	else if (progress.offset > 0)
		ports.events("resume", { offset: progress.offset, size: plan.size });
	try {
		const cursor: Cursor = { writeFrom: progress.offset, erasedTo: progress.offset };
		if (cursor.writeFrom < plan.size)
			ports.flash.invalidate(plan.slot); // before a byte changes: no old otadata entry may boot the slot
		for (let short = 0; cursor.writeFrom < plan.size && !(await fetchRest(ports, records, plan, progress, cursor)); short++) {
			if (short + 1 >= MAX_SHORT_RANGES)
				throw new TransientError(`${MAX_SHORT_RANGES} short ranges in a row, at ${cursor.writeFrom} of ${plan.size} bytes`);
			ports.events("short-range", { at: cursor.writeFrom, size: plan.size });
		}
	} catch (error) {
		if (error instanceof UpdateRejected)
			records.progress = undefined;
		throw error;
	}
	const verdict = verifySlot(ports.flash, plan.slot, plan.size, plan.sha256);
	if (!verdict.ok) {
		records.progress = undefined;
		throw new UpdateRejected(verdict.reason, verdict.reason === "digest-mismatch"
			? `the image in the slot does not match the signed SHA-256 (${verdict.detail})` : verdict.detail);
	}
}
