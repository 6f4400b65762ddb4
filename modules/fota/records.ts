// The client's persistent records, in the store shared by every firmware version.
// Keys are at most 15 characters (NVS). Structured records are JSON strings.
import type { Store } from "./ports.js";

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
	version: string;
	securityVersion: number;
	sha256: string;
	slot: number;
	fromVersion: string;
	stage: "activated" | "selftest";
	failure?: string;
}

export interface LastResult {
	state: string;
	version: string;
	error?: string;
}

const KEYS = {
	securityVersion: "secver",
	sequence: "seq",
	failedSequence: "failseq",
	progress: "download",
	pending: "pending",
	last: "last",
} as const;

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

function readNumber(store: Store, key: string): number {
	const value = store.get(key);
	return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

export class Records {
	readonly #store: Store;
	constructor(store: Store) {
		this.#store = store;
	}
	get securityVersion(): number { return readNumber(this.#store, KEYS.securityVersion); }
	/** Only ever raised. */
	raiseSecurityVersion(value: number): void {
		if (value > this.securityVersion)
			this.#store.set(KEYS.securityVersion, value);
	}
	get sequence(): number { return readNumber(this.#store, KEYS.sequence); }
	raiseSequence(value: number): void {
		if (value > this.sequence)
			this.#store.set(KEYS.sequence, value);
	}
	get failedSequence(): number { return readNumber(this.#store, KEYS.failedSequence); }
	set failedSequence(value: number) { this.#store.set(KEYS.failedSequence, value); }

	get progress(): Progress | undefined { return readJson<Progress>(this.#store, KEYS.progress); }
	set progress(value: Progress | undefined) { writeJson(this.#store, KEYS.progress, value); }
	get pending(): Pending | undefined { return readJson<Pending>(this.#store, KEYS.pending); }
	set pending(value: Pending | undefined) { writeJson(this.#store, KEYS.pending, value); }
	get last(): LastResult | undefined { return readJson<LastResult>(this.#store, KEYS.last); }
	set last(value: LastResult | undefined) { writeJson(this.#store, KEYS.last, value); }
}
