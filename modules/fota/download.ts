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
import { watchTransfer, type TransferLimits, type TransferWatch } from "./transfer.js";
import { retryAfter } from "./schedule.js";
import type { Clock, EventSink, Flash, Headers, ResponseSink, Slot, SlotVerdict, Transport } from "./ports.js";

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

/** How many short 206 answers in a row a download takes before it backs off: each must bring at least a byte. */
export const MAX_SHORT_RANGES = 64;

/** One download: its ranged GETs, from writeFrom to the end, one after another, then the slot's read-back. This one
 * object is the sink of all of them (transports give no event after abort() or done), with the state of the request
 * under way in its fields, and it settles the download's one Promise: a request costs its headers and its transfer
 * watch, not a Promise and a set of closures, and no async function's frame is saved at each request and each
 * short range (README, "Memory"). A data event allocates nothing. Its members are TypeScript-private, not #private:
 * in XS a #private member costs about twice the slots in the class's definition, idle memory for the device's life. */
class RangedDownload implements ResponseSink {
	private readonly ports: DownloadPorts;
	private readonly records: Records;
	private readonly plan: DownloadPlan;
	private readonly progress: Progress;
	/** the next byte of the slot to write; the end of its erased part */
	writeFrom: number;
	private erasedTo: number;
	// the request under way
	private start = 0;                 // the first byte it asked for
	private position = 0;              // offset in the image of the next byte the server sends
	private rangeEnd = 0;              // one past the last byte this response carries
	private settled = true;
	private request: { abort(): void } | undefined;
	private watch: TransferWatch | undefined;
	/** short 206 answers so far */
	private shorts = 0;
	// the download's Promise
	private resolve: (() => void) | undefined;
	private reject: ((error: unknown) => void) | undefined;
	// made once per download, not per request
	private readonly begin = (resolve: () => void, reject: (error: unknown) => void): void => {
		this.resolve = resolve;
		this.reject = reject;
	};
	private readonly tooSlow = (why: string): void => {
		this.finish(new TransientError(`${this.plan.url} at ${this.writeFrom} of ${this.plan.size} bytes: ${why}`));
	};

	constructor(ports: DownloadPorts, records: Records, plan: DownloadPlan, progress: Progress) {
		this.ports = ports;
		this.records = records;
		this.plan = plan;
		this.progress = progress;
		this.writeFrom = this.erasedTo = progress.offset;
	}

	/** The download, from writeFrom: settles once the slot holds every byte and its read-back matched (or on the first
	 * error, or after MAX_SHORT_RANGES short ranges in a row). */
	run(): Promise<void> {
		const done = new Promise<void>(this.begin);
		try {
			if (this.writeFrom < this.plan.size)
				this.ports.flash.invalidate(this.plan.slot); // before a byte changes: no old otadata entry may boot the slot
		} catch (error) {
			this.fail(error);
			return done;
		}
		RangedDownload.next(this);
		return done;
	}

	/** The next step, in a job of its own after a request ended (as the caller's loop over requests was): the rest of
	 * the image when the server answered a shorter range than asked (HTTP allows it), else the read-back. A static
	 * method, so that no closure is made per step. */
	private static next(download: RangedDownload): void {
		try {
			if (download.writeFrom < download.plan.size)
				download.fetchRest();
			else
				download.verify();
		} catch (error) { // a port that threw (the flash's read-back, say): the download's error, as any other
			download.fail(error);
		}
	}

	/** Reads the slot back once (verifySlot): the signed SHA-256 and the activation's image check. */
	private verify(): void {
		const { flash } = this.ports, plan = this.plan;
		const verdict = verifySlot(flash, plan.slot, plan.size, plan.sha256);
		if (!verdict.ok)
			return this.fail(new UpdateRejected(verdict.reason, verdict.reason === "digest-mismatch"
				? `the image in the slot does not match the signed SHA-256 (${verdict.detail})` : verdict.detail));
		const resolve = this.resolve!;
		this.resolve = this.reject = undefined;
		resolve();
	}

	/** The download failed: a refusal (UpdateRejected) drops the download record, so that the next try starts over. */
	private fail(error: unknown): void {
		const reject = this.reject;
		if (!reject)
			return; // settled already
		this.resolve = this.reject = undefined;
		try {
			if (error instanceof UpdateRejected)
				this.records.progress = undefined;
		} finally {
			reject(error);
		}
	}

	/** One ranged GET from writeFrom to the end. */
	private fetchRest(): void {
		const plan = this.plan, progress = this.progress;
		const start = this.start = this.writeFrom;
		this.position = 0;
		this.rangeEnd = plan.size;
		this.settled = false;
		const headers: [string, string][] = [["Range", `bytes=${start}-${plan.size - 1}`]];
		if (start > 0 && progress.etag)
			headers.push(["If-Range", progress.etag]);
		this.watch = watchTransfer(this.ports.clock, plan.limits, this.tooSlow);
		try {
			this.request = this.ports.transport.request({ url: plan.url, headers, timeout: plan.timeoutMs }, this);
		} catch (error) {
			this.finish(error as Error);
		}
	}

	/** The request under way ended: with an error (the download fails), short of the end (a short 206, delivered
	 * whole: the rest is asked for), or with the last byte. */
	private finish(error?: Error, complete = true): void {
		if (this.settled)
			return;
		this.settled = true;
		this.watch!.stop();
		this.watch = undefined;
		const request = this.request;
		this.request = undefined;
		if (error) {
			request?.abort();
			return this.fail(error);
		}
		if (!complete) {
			if (++this.shorts >= MAX_SHORT_RANGES)
				return this.fail(new TransientError(`${MAX_SHORT_RANGES} short ranges in a row, at ${this.writeFrom} of ${this.plan.size} bytes`));
			this.ports.events("short-range", { at: this.writeFrom, size: this.plan.size });
		}
		Promise.resolve(this).then(RangedDownload.next);
	}

	response(status: number, headers: Headers): void {
		if (this.settled)
			return;
		try {
			this.onResponse(status, headers);
		} catch (error) {
			this.finish(error as Error);
		}
	}

	data(chunk: Uint8Array): void {
		if (this.settled)
			return;
		this.watch!.received(chunk.length);
		try {
			this.onData(chunk);
		} catch (error) {
			this.finish(error as Error);
		}
	}

	done(error?: string): void {
		if (this.settled)
			return;
		const size = this.plan.size, at = this.writeFrom;
		if (error)
			return this.finish(new TransientError(`link lost at ${at} of ${size} bytes: ${error}`));
		if (at < size && at === this.rangeEnd && this.rangeEnd > this.start)
			return this.finish(undefined, false); // a short 206, delivered whole: ask for the rest
		if (at < size)
			return this.finish(new TransientError(`the body ended at ${at} of ${size} bytes`));
		this.finish();
	}

	private onResponse(status: number, headers: Headers): void {
		const plan = this.plan, progress = this.progress, start = this.start;
		const received = headers["etag"];
		const etag = usableEtag(received);
		if (received !== undefined && etag === undefined)
			this.ports.events("etag-dropped", { length: received.length });
		if (status === 206) {
			const contentRange = headers["content-range"];
			const range = CONTENT_RANGE.exec(contentRange ?? "");
			if (!range)
				throw new TransientError(`206 without a valid Content-Range (${contentRange})`);
			if (Number(range[3]) !== plan.size)
				throw new UpdateRejected("size-mismatch", `server has ${range[3]} bytes, the manifest signs ${plan.size}`);
			if (Number(range[1]) !== start || Number(range[2]) > plan.size - 1 || Number(range[2]) < start)
				throw new TransientError(`Content-Range ${contentRange} does not match bytes=${start}-${plan.size - 1}`);
			if (start > 0 && progress.etag && etag !== progress.etag)
				return this.imageChanged();
			this.position = start;
			this.rangeEnd = Number(range[2]) + 1;
		}
		else if (status === 200) {
			const length = headers["content-length"];
			if (length !== undefined && Number(length) !== plan.size)
				throw new UpdateRejected("size-mismatch", `server sends ${length} bytes, the manifest signs ${plan.size}`);
			if (start > 0) {
				if (progress.etag && etag !== progress.etag)
					return this.imageChanged();
				this.ports.events("restart", { reason: "range-ignored", skip: start });
			}
			this.position = 0;
		}
		else
			throw new TransientError(`HTTP ${status} for the image`, retryAfter(headers["retry-after"], this.ports.clock.wall()));
		if (etag && etag !== progress.etag) { // kept now: the checkpoints that follow move only the offset
			progress.etag = etag;
			this.records.progress = progress;
		}
	}

	/** The image behind the URL is not the one we were resuming: start over from zero, with the manifest fetched
	 * again, since a new image usually means a new release. */
	private imageChanged(): never {
		const progress = this.progress;
		this.ports.events("restart", { reason: "image-changed", from: progress.offset });
		progress.offset = 0;
		delete progress.etag;
		this.records.progress = progress;
		throw new ImageChanged("the image changed on the server (new ETag); starting over from zero");
	}

	private onData(chunk: Uint8Array): void {
		const plan = this.plan, flash = this.ports.flash, writeFrom = this.writeFrom;
		const length = chunk.length, from = this.position, end = from + length;
		this.position = end;
		if (end > plan.size)
			throw new UpdateRejected("body-too-long", `server sent more than the signed ${plan.size} bytes`);
		if (end > this.rangeEnd)
			throw new TransientError(`server sent bytes past its Content-Range (${this.rangeEnd})`);
		if (end <= writeFrom)
			return;
		// the part of a piece already in the slot (a 200 from zero on a resume) is skipped: a view only then
		const piece = from < writeFrom ? chunk.subarray(writeFrom - from) : chunk;
		const at = from < writeFrom ? writeFrom : from;
		const sector = flash.sectorSize;
		while (this.erasedTo < end) {
			flash.erase(plan.slot, this.erasedTo, sector);
			this.erasedTo += sector;
		}
		flash.write(plan.slot, at, piece);
		this.writeFrom = end;
		const reached = end === plan.size ? end : end - (end % plan.chunkBytes);
		if (reached > this.progress.offset)
			this.checkpoint(reached);
	}

	private checkpoint(offset: number): void {
		this.progress.offset = offset;
		this.records.checkpoint(offset);
		this.ports.events("progress", { offset, size: this.plan.size });
	}
}

/** Reads the slot back once: its SHA-256 against the manifest's and, from the same pass, the activation's image
 * check. Changes nothing; the flash remembers an accepted slot so that activate need not read it again. */
export function verifySlot(flash: Flash, slot: Slot, size: number, sha256: string): SlotVerdict {
	const expected = fromHex(sha256);
	if (!expected || expected.length !== 32)
		return { ok: false, reason: "digest-mismatch", detail: `${slot.label}: the signed SHA-256 is not 32 bytes of hex` };
	return flash.verify(slot, size, expected);
}

/** Downloads (or resumes) the image into plan.slot and verifies it. Rejects with TransientError or UpdateRejected.
 * Not an async function: the download's one object settles the Promise (RangedDownload). */
export function downloadImage(ports: DownloadPorts, records: Records, plan: DownloadPlan): Promise<void> {
	try {
		return new RangedDownload(ports, records, plan, begin(ports, records, plan)).run();
	} catch (error) {
		return Promise.reject(error);
	}
}

/** The download record to go on from: the one kept when it is this image's, else a new one from zero. */
function begin(ports: DownloadPorts, records: Records, plan: DownloadPlan): Progress {
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
	return progress;
}
