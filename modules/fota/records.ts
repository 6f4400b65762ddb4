// The client's persistent records, in the store shared by every firmware version.
// Keys are at most 15 characters (NVS). Structured records are JSON strings. The counters (sequence up to
// 2^53 - 1, security version up to 2^32 - 1) are canonical decimal strings: Moddable's Preference keeps a number
// only as an int32 on the ESP32 (modules/fota/nvs.ts), so a number would be refused or cut there. A download's offset,
// which fits an int32 and moves at every chunk, is a number in a key of its own (Records.checkpoint).
import type { Store } from "./ports.js";
import type { ConfigReportState, ReportState } from "./protocol.js";
import { usableEtag } from "./download.js";

/** A download in progress: enough to resume it after a lost link or a reboot. */
export interface Progress {
	sequence: number;
	sha256: string;
	size: number;
	slot: number;
	/** bytes durably written from the start of the slot: a multiple of the chunk size, or the size */
	offset: number;
	etag?: string;
}

/** An image activated but not yet confirmed; read by the new image to confirm, by the old one after a rollback. */
export interface Pending {
	sequence: number;
	/** what the manifest promised: the new image must report this version and kind, and hash to sha256 over size */
	version: string;
	kind?: string;
	size?: number;
	securityVersion: number;
	sha256: string;
	slot: number;
	fromVersion: string;
	/** activated: otadata names the slot (or is being written); selftest: the trial runs; confirming: the trial
	 * passed and the image is being marked valid */
	stage: "activated" | "selftest" | "confirming";
	/** why the trial failed, and which check failed */
	failure?: string;
	failedCheck?: string;
}

/** The last outcome: what the server was told, or is still to be told (unreported). */
export interface LastResult {
	state: ReportState;
	version: string;
	error?: string;
	/** the release it concerns, when it is not the running firmware */
	target?: string;
	unreported?: boolean;
}

/** A config document being tried (client.ts, the config trial): "selftest" while the trial runs, "failed" once it
 * failed and the trial copy is being erased. A reset finds it and knows the trial did not finish. */
export interface ConfigTrial {
	sequence: number;
	/** the trial copy's count */
	count: number;
	stage: "selftest" | "failed";
	failure?: string;
	/** the failure was the power's, not the config's: the document is tried again */
	retry?: boolean;
}

/** The last outcome of a config document, kept until the server has it. */
export interface ConfigResult {
	state: ConfigReportState;
	/** the document's sequence */
	target: number;
	error?: string;
	unreported?: boolean;
}

/** The last manifest the device judged for good (verified, and its outcome final: up to date, declined by policy,
 * rejected for good), named by the ETag the server gave it, and the state it was judged in (client.ts, judgedState):
 * the next manifest request carries If-None-Match with the ETag only while the state is the same, so that a 304
 * never stands for a manifest the device has not judged as it is now. */
export interface JudgedManifest {
	etag: string;
	state: string;
}

/** The longest judged state kept (a version of up to 128 characters and a few counters). */
export const MAX_JUDGED_STATE = 256;

const KEYS = {
	securityVersion: "secver",
	sequence: "seq",
	failedSequence: "failseq",
	progress: "download",
	progressOffset: "dloffset",
	pending: "pending",
	last: "last",
	badTransfers: "badxfer",
	interrupted: "interrupted",
	configConfirmed: "cfgok",
	configTrial: "cfgtrial",
	configLast: "cfglast",
	configFailed: "cfgfail",
	configInterrupted: "cfgintr",
	judged: "mfjudged",
} as const;

/** How often something went wrong with one release: bad transfers (the image the server sent did not match the
 * signed size or digest), or activations that ended without a verdict on the image (client.ts, interrupted). */
export interface ReleaseCount {
	sequence: number;
	count: number;
}

function readJson<T>(store: Store, key: string): T | undefined {
	const value = store.get(key);
	if (typeof value !== "string")
		return undefined;
	try {
		return JSON.parse(value) as T;
	} catch {
		store.delete(key); // a torn or foreign record is dropped, never trusted
		return undefined;
	}
}

/** Writes a record as JSON, or removes it when value is undefined. */
function writeJson(store: Store, key: string, value: object | undefined): void {
	if (value)
		store.set(key, JSON.stringify(value));
	else
		store.delete(key);
}

const CANONICAL = /^(0|[1-9][0-9]{0,15})$/;

/** A counter: a canonical decimal string (or, as first written, an int32 number); 0 when absent or unreadable. */
function readCounter(store: Store, key: string): number {
	const value = store.get(key);
	if (typeof value === "number")
		return Number.isSafeInteger(value) && value >= 0 ? value : 0;
	if (typeof value === "string" && CANONICAL.test(value)) {
		const number = Number(value);
		if (Number.isSafeInteger(number))
			return number;
	}
	return 0;
}

function writeCounter(store: Store, key: string, value: number): void {
	if (!Number.isSafeInteger(value) || value < 0)
		throw new RangeError(`records: ${key} must be an integer from 0 to 2^53 - 1, not ${value}`);
	store.set(key, String(value));
}

/** A download offset as the store keeps it: an int32 (Moddable's Preference keeps no other number on the ESP32). */
function checkOffset(offset: number): void {
	if (!Number.isSafeInteger(offset) || offset < 0 || offset > 0x7fffffff)
		throw new RangeError(`records: a download offset must be an integer from 0 to 2^31 - 1, not ${offset}`);
}

export class Records {
	readonly #store: Store;
	constructor(store: Store) {
		this.#store = store;
	}
	get securityVersion(): number { return readCounter(this.#store, KEYS.securityVersion); }
	/** Only ever raised. */
	raiseSecurityVersion(value: number): void {
		if (value > this.securityVersion)
			writeCounter(this.#store, KEYS.securityVersion, value);
	}
	get sequence(): number { return readCounter(this.#store, KEYS.sequence); }
	raiseSequence(value: number): void {
		if (value > this.sequence)
			writeCounter(this.#store, KEYS.sequence, value);
	}
	get failedSequence(): number { return readCounter(this.#store, KEYS.failedSequence); }
	set failedSequence(value: number) { writeCounter(this.#store, KEYS.failedSequence, value); }

	/** The download record and its offset, kept apart (checkpoint): the record's offset is read from its own key, or,
	 * for a record written whole by an older firmware, from the record; a record without either gets -1, which no
	 * download resumes from. */
	get progress(): Progress | undefined {
		const record = readJson<Progress>(this.#store, KEYS.progress);
		if (record === undefined || typeof record !== "object" || record === null)
			return undefined;
		const offset = this.#store.get(KEYS.progressOffset);
		if (typeof offset === "number")
			record.offset = offset;
		else if (typeof record.offset !== "number")
			record.offset = -1;
		return record;
	}
	/** A new download record (or none). In this order, so that a reset between two writes never pairs a record with
	 * another record's offset: the old record goes, then the offset is written, then the record, without it. */
	set progress(value: Progress | undefined) {
		if (value)
			checkOffset(value.offset); // before anything is written
		this.#store.delete(KEYS.progress);
		if (!value) {
			this.#store.delete(KEYS.progressOffset);
			return;
		}
		this.#store.set(KEYS.progressOffset, value.offset);
		const { offset, ...record } = value;
		writeJson(this.#store, KEYS.progress, record);
	}
	/** The download's checkpoint: its offset moves and its record stays. A number in a key of its own, not the record
	 * written again: a download checkpoints at every chunk, and a string built at each is garbage on the device's heap
	 * (README, "Memory") and bytes in its NVS. */
	checkpoint(offset: number): void {
		checkOffset(offset);
		this.#store.set(KEYS.progressOffset, offset);
	}
	get pending(): Pending | undefined { return readJson<Pending>(this.#store, KEYS.pending); }
	set pending(value: Pending | undefined) { writeJson(this.#store, KEYS.pending, value); }
	get last(): LastResult | undefined { return readJson<LastResult>(this.#store, KEYS.last); }
	set last(value: LastResult | undefined) { writeJson(this.#store, KEYS.last, value); }
	/** The count of the newest working config copy whose trial passed (config-store.ts): a trial copy up to it is good. */
	get configConfirmed(): number { return readCounter(this.#store, KEYS.configConfirmed); }
	set configConfirmed(value: number) { writeCounter(this.#store, KEYS.configConfirmed, value); }
	get configTrial(): ConfigTrial | undefined { return readJson<ConfigTrial>(this.#store, KEYS.configTrial); }
	set configTrial(value: ConfigTrial | undefined) { writeJson(this.#store, KEYS.configTrial, value); }
	get configLast(): ConfigResult | undefined { return readJson<ConfigResult>(this.#store, KEYS.configLast); }
	set configLast(value: ConfigResult | undefined) { writeJson(this.#store, KEYS.configLast, value); }
	/** The last manifest judged for good; a record whose ETag is not usable (download.ts, usableEtag) or whose state
	 * is out of bounds is dropped, never sent. */
	get judged(): JudgedManifest | undefined {
		const value = readJson<JudgedManifest>(this.#store, KEYS.judged);
		if (value === undefined)
			return undefined;
		if (typeof value !== "object" || value === null || usableEtag(value.etag) === undefined || typeof value.state !== "string" || value.state.length > MAX_JUDGED_STATE) {
			this.#store.delete(KEYS.judged);
			return undefined;
		}
		return { etag: value.etag, state: value.state };
	}
	set judged(value: JudgedManifest | undefined) {
		if (value && (usableEtag(value.etag) === undefined || value.state.length > MAX_JUDGED_STATE))
			throw new RangeError(`records: a judged manifest needs a usable ETag and a state of at most ${MAX_JUDGED_STATE} characters`);
		writeJson(this.#store, KEYS.judged, value);
	}
	/** A config document sequence whose trial failed here: not tried again. */
	get configFailed(): number { return readCounter(this.#store, KEYS.configFailed); }
	set configFailed(value: number) { writeCounter(this.#store, KEYS.configFailed, value); }
	/** Counts one more config trial of this document cut short by a power loss; returns the count. */
	countConfigInterrupted(sequence: number): number {
		return this.#count(KEYS.configInterrupted, sequence);
	}
	/** Counts one more bad transfer of this release (a new release starts from 1); returns the count. */
	countBadTransfer(sequence: number): number {
		return this.#count(KEYS.badTransfers, sequence);
	}
	clearBadTransfers(): void {
		writeJson(this.#store, KEYS.badTransfers, undefined);
	}
	/** Counts one more activation of this release that ended without a verdict on the image (a power loss, a reset
	 * while confirming, a failed update-server check); returns the count. */
	countInterrupted(sequence: number): number {
		return this.#count(KEYS.interrupted, sequence);
	}
	clearInterrupted(): void {
		writeJson(this.#store, KEYS.interrupted, undefined);
	}
	#count(key: string, sequence: number): number {
		const previous = readJson<ReleaseCount>(this.#store, key);
		const count = previous && previous.sequence === sequence && Number.isSafeInteger(previous.count) ? previous.count + 1 : 1;
		writeJson(this.#store, key, { sequence, count });
		return count;
	}
}
