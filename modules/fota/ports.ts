// The client's only ways to reach the world. Each target gives a thin adapter for each port;
// Node tests use fakes. Nothing here names a platform.

/** Response headers, with lower-case names. */
export type Headers = Record<string, string>;

export interface HttpRequest {
	url: string;
	method?: "GET" | "POST";
	headers?: [string, string][];
	body?: string;
	/** connect and stall timeout, ms */
	timeout: number;
}

export interface ResponseSink {
	/** The status line and headers, once. */
	response(status: number, headers: Headers): void;
	/** The body, in pieces, in order. A piece is valid only during this call: a transport may hand the same buffer,
	 * refilled, for the next piece (the sim's does, so that a download makes no garbage per chunk). A sink copies
	 * what it keeps (fetch.ts slices; download.ts writes it to flash at once). */
	data(chunk: Uint8Array): void;
	/** The end: no error when the body is complete. */
	done(error?: string): void;
}

/** HTTPS with the project's CA pinned. */
export interface Transport {
	request(request: HttpRequest, sink: ResponseSink): { abort(): void };
}

export interface Slot {
	label: string;
	index: number;
	size: number;
}

export type SlotState = "new" | "pending-verify" | "valid" | "invalid" | "aborted" | "undefined";

/** Why the device last started (ESP-IDF's esp_reset_reason, grouped): "power-on" covers a power cut. */
export type ResetCause = "power-on" | "brownout" | "software" | "watchdog" | "crash" | "external" | "unknown";

/** What Flash.verify found: the slot may be activated, or why not (each reported with its own reason). */
export type SlotVerdict = { ok: true } | { ok: false; reason: "digest-mismatch" | "not-bootable"; detail: string };

/** The OTA slots (ESP-IDF's app partitions and otadata) and the boot. */
export interface Flash {
	readonly sectorSize: number;
	running(): Slot & { state: SlotState };
	next(): Slot;
	erase(slot: Slot, offset: number, length: number): void;
	write(slot: Slot, offset: number, data: Uint8Array): void;
	read(slot: Slot, offset: number, length: number): Uint8Array;
	/** The SHA-256 of the slot's first length bytes, computed where the flash is (as esp_partition_get_sha256) */
	sha256(slot: Slot, length: number): Uint8Array;
	/** One pass over the slot's first size bytes: their SHA-256 against the signed one, and from the same reads the
	 * image check that activate makes (the bootloader's). Validation only: nothing changes state. A slot it accepts,
	 * and that is not written, erased or invalidated afterwards (nor reset), activates without being read again. */
	verify(slot: Slot, size: number, sha256: Uint8Array): SlotVerdict;
	/** Makes sure no otadata entry can boot this (inactive) slot, before it is rewritten: an entry left from an
	 * image it held before would otherwise boot the new bytes without a trial (esp_ota_invalidate_inactive_ota_data_slot). */
	invalidate(slot: Slot): void;
	/** Makes the slot boot next (otadata NEW). Reads nothing when verify accepted the slot and it has not changed
	 * since; otherwise checks the image itself (fail closed). Throws when the image check refuses it. */
	activate(slot: Slot): void;
	markValid(): void;
	markInvalidAndReboot(): void;
	reboot(): void;
	/** Why this start happened. */
	lastReset(): ResetCause;
}

export interface Verifier {
	/** Ed25519 over a detached signature. */
	verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

export interface Watchdog {
	arm(timeoutMs: number): void;
	feed(): void;
	disarm(): void;
}

export type StoreValue = string | number | boolean;

/** Small persistent records (Preference / NVS), shared by every firmware version. */
export interface Store {
	get(key: string): StoreValue | undefined;
	set(key: string, value: StoreValue): void;
	delete(key: string): void;
}

/** Where the device config's copies live (modules/fota/config-store.ts): the fotacfg partition. */
export type ConfigArea = "factory" | "working-1" | "working-2";
export type WorkingArea = "working-1" | "working-2";

/** The device config's flash: three areas, each holding one record or blank. */
export interface ConfigFlash {
	/** The bytes of the record in an area, or undefined when the area is blank (erased, never written). */
	read(area: ConfigArea): Uint8Array | undefined;
	/** Replaces the record in a working area: erase, then write. */
	write(area: WorkingArea, bytes: Uint8Array): void;
	/** Erases a working area. */
	erase(area: WorkingArea): void;
}

export interface Clock {
	/** Monotonic milliseconds. */
	now(): number;
	/** Wall-clock milliseconds since 1970, or undefined when the time is not known. */
	wall(): number | undefined;
	/** Calls back after ms; returns a cancel function. */
	after(ms: number, callback: () => void): () => void;
	/** A number in [0, 1). */
	random(): number;
}

/** The device's event log (JSON lines on the sim board; the console elsewhere). */
export type EventSink = (type: string, fields: Record<string, unknown>) => void;

export interface Ports {
	transport: Transport;
	flash: Flash;
	verifier: Verifier;
	watchdog: Watchdog;
	store: Store;
	clock: Clock;
	events: EventSink;
	/** The device config's copies: config documents are taken only where a target has them. */
	configFlash?: ConfigFlash;
}
