// The update client: every decision of an update, platform-neutral, reaching the world only through ports.
//   boot()     on every start: supervises a pending image's trial, or reports a rollback
//   start()    polls the server with jitter and back-off
//   check()    one round: manifest, signature, checks, policy, download, verify, activate, reboot
//   hold()     the app's "busy, not now": no activation and no reboot while any hold is active
// Config documents (README, "Configuration over the air") take the same path as firmware: the server's hint on a
// manifest answer, the document fetched and verified, a trial copy written, a reboot, the same supervised trial, and
// the copy confirmed or erased (config-store.ts).
import { checkWindow, Holds, type Release } from "./policy.js";
import { evaluate } from "./checks.js";
import { downloadImage, ImageChanged, usableEtag } from "./download.js";
import { fetchBounded, TooLarge, type Fetched } from "./fetch.js";
import { MAX_MANIFEST_BYTES, openSignedManifest, type ImageKind, type UpdateManifest } from "./manifest.js";
import { MAX_JUDGED_STATE, Records, type LastResult, type Pending } from "./records.js";
import { sendReport } from "./report.js";
import { nextDelay, retryAfter } from "./schedule.js";
import { runTrial, type SelfTestCheck } from "./selftest.js";
import { TransientError, UpdateRejected, type InterruptReason } from "./errors.js";
import { toHex } from "./hex.js";
import type { TransferLimits } from "./transfer.js";
import { resolveUrl } from "./url.js";
import { CONFIG_HEADER, CONFIG_PENDING_HEADER, configPath, IF_NONE_MATCH_HEADER, manifestPath, NOT_MODIFIED, VERSION_HEADER, type ReportState } from "./protocol.js";
import { crc32 } from "./crc32.js";
import { encodeUtf8 } from "./utf8.js";
import { MAX_CONFIG_DOC_BYTES } from "./envelope.js";
import { openConfigDoc, type OpenedConfig } from "./config-doc.js";
import { writeTrialCopy, type LoadedConfig } from "./config-store.js";
import type { ConfigResult, ConfigTrial } from "./records.js";
import { reportableConfig, type DeviceConfig, type Sha256 } from "./config.js";
import type { Ports, ResetCause, Slot } from "./ports.js";

/** Rejections caused by the bytes the server sent, not by the signed release. */
const BAD_TRANSFER = ["size-mismatch", "digest-mismatch", "body-too-long"];
/** Bad transfers of one release in a row before it is given up until a newer one. */
export const MAX_BAD_TRANSFERS = 3;
/** Activations of one release that a power loss may cut short before the release counts as failed: a genuine
 * image survives two cuts in one update; an image that browns the board out on every start does not loop for ever. */
export const MAX_INTERRUPTED = 3;

const POWER_LOSS: readonly ResetCause[] = ["power-on", "brownout"];
/** The trial's own check: the new image fetches and verifies the signed manifest. When it fails, the server may be
 * at fault as much as the image: the release is tried again (MAX_INTERRUPTED times) once the old image, which
 * checks the manifest before it activates anything, finds the server sound. */
const SERVER_CHECK = "update-server";

/** The server's config hint: a positive decimal sequence (made once, not per poll: a regular expression literal is
 * compiled each time it is evaluated). */
const CONFIG_HINT = /^[1-9][0-9]{0,15}$/;

/** A manifest request's answer: no release (404, 204), nothing new since the ETag the device named (304, only to a
 * conditional request), or a body to open, with the ETag the server gave it. */
type ManifestAnswer =
	| { kind: "none" }
	| { kind: "not-modified" }
	| { kind: "body"; body: Uint8Array; etag: string | undefined };

/** The error code of a JSON error answer ({"error": "device-certificate-required", ...}), read from its first bytes
 * with a pattern rather than parsed: it is unauthenticated, and only a short code of [a-z0-9-] is taken. */
function serverError(body: Uint8Array): string | undefined {
	let text = "";
	for (let i = 0; i < body.length && i < 256; i++)
		text += String.fromCharCode(body[i]!);
	return /"error"\s*:\s*"([a-z0-9-]{1,48})"/.exec(text)?.[1];
}

/** A manifest request's failure: a body over the bound is the release's fault (refused), anything else the link's. */
function oversized(error: unknown): never {
	if (error instanceof TooLarge)
		throw new UpdateRejected("oversized", error.message);
	throw error;
}

/** Why an activated image that did not fail its trial is not running, when that was not the image's fault. */
function interruption(stage: Pending["stage"], cause: ResetCause): InterruptReason | undefined {
	if (stage === "confirming")
		return "reset-while-confirming"; // the trial passed; the cut (or reset) came while otadata was written
	if (!POWER_LOSS.includes(cause))
		return undefined; // a crash, a watchdog, a restart: the image's doing
	return stage === "activated" ? "power-loss-before-trial" : "power-loss-in-trial";
}

export interface Firmware {
	version: string;
	kind: ImageKind;
}

export type CheckOutcome =
	| { result: "none"; why: string }
	| { result: "rejected"; reason: string; detail: string }
	| { result: "deferred"; reason: string; waitMs: number }
	| { result: "error"; detail: string; retryAfterMs: number }
	| { result: "activated"; version: string }
	| { result: "config-activated"; sequence: number };

export type BootOutcome =
	| { state: "running" }
	| { state: "confirmed"; version: string }
	| { state: "rolled-back"; from: string; reason: string }
	| { state: "interrupted"; version: string; reason: InterruptReason };

export interface ClientOptions {
	config: DeviceConfig;
	ports: Ports;
	firmware: Firmware;
	/** The app's checks for the trial of a new image; "the update server is reachable" is always added. */
	selfTest?: SelfTestCheck[];
	/** How long the event loop may stay blocked during the trial before the watchdog resets, ms (default: the config's) */
	watchdogMs?: number;
	/** Immediate retries of a download within one round, after a lost link */
	downloadAttempts?: number;
	/** The device config as loaded from its copies (config-store.ts), and the SHA-256 to check documents with:
	 * config documents are taken only with both, and the ports' configFlash. */
	loaded?: LoadedConfig;
	sha256?: Sha256;
}

export class FotaClient {
	readonly #config: DeviceConfig;
	readonly #ports: Ports;
	readonly #firmware: Firmware;
	readonly #records: Records;
	readonly #holds = new Holds();
	readonly #checks: SelfTestCheck[];
	readonly #watchdogMs: number;
	readonly #attempts: number;
	#failures = 0;
	#cancelPoll: (() => void) | undefined;
	#busy = false;
	#loaded: LoadedConfig | undefined;
	readonly #sha256: Sha256 | undefined;
	/** the config document sequence the server last said it holds for this device (0: none) */
	#configPending = 0;
	/** Made once: the manifest's URL and the CRC of the config's keys (the config is the client's for its life). */
	readonly #manifestUrl: string;
	readonly #keysCrc: string;
	/** The last judged state made, and the counters it was made from: a poll rebuilds it only when one changed. */
	#state = "";
	#stateOf: number[] = [-1, -1, -1, -1, -1];

	constructor(options: ClientOptions) {
		this.#config = options.config;
		this.#ports = options.ports;
		this.#firmware = options.firmware;
		this.#records = new Records(options.ports.store);
		this.#watchdogMs = options.watchdogMs ?? options.config.watchdogSeconds * 1000;
		this.#attempts = options.downloadAttempts ?? 3;
		this.#loaded = options.loaded;
		this.#sha256 = options.sha256;
		this.#checks = [...(options.selfTest ?? []), { name: SERVER_CHECK, run: () => this.#serverReachable() }];
		reportableConfig(options.config); // made once, at start: every report carries it (config.ts)
		const { server, product, deviceId, keys } = options.config;
		this.#manifestUrl = `${server}${manifestPath(product)}?device=${encodeURIComponent(deviceId)}`;
		this.#keysCrc = crc32(encodeUtf8(keys.map((key) => `${key.keyId}:${toHex(key.publicKey)}`).join(","))).toString(16);
	}

	get manifestUrl(): string {
		return this.#manifestUrl;
	}

	hold(reason: string): Release {
		const release = this.#holds.hold(reason);
		this.#event("hold", { reason });
		let released = false;
		return () => {
			if (!released) {
				released = true;
				release();
				this.#event("release", { reason });
			}
		};
	}

	/** A transfer's bounds from the device config: this deadline, and the minimum rate over the window. */
	#limits(deadlineSeconds: number): TransferLimits {
		return {
			deadlineMs: deadlineSeconds * 1000,
			minBytesPerSecond: this.#config.minRateBytesPerSecond,
			windowMs: Math.min(this.#config.rateWindowSeconds, deadlineSeconds) * 1000,
		};
	}

	#event(type: string, fields: Record<string, unknown> = {}): void {
		this.#ports.events(type, fields);
	}

	#report(state: ReportState, extra: { error?: string; target?: string; configTarget?: number } = {}): Promise<boolean> {
		const running = this.#ports.flash.running();
		const loaded = this.#loaded;
		return sendReport(this.#ports.transport, this.#ports.clock, this.#config, this.#ports.events, {
			version: this.#firmware.version,
			state,
			securityVersion: this.#records.securityVersion,
			sequence: this.#records.sequence,
			slot: running.index,
			...extra,
		}, loaded ? { sequence: loaded.sequence, source: loaded.source, ...(loaded.damaged.length ? { lost: loaded.damaged.map((d) => d.area) } : {}) } : undefined);
	}

	/** Records an outcome as the last one, and reports it; the record says "unreported" until the server has it, and
	 * the next start sends it again (a reset or a lost link may come between the two). */
	async #settle(last: LastResult, target?: string): Promise<void> {
		const records = this.#records;
		const unreported = { ...last, ...(target ? { target } : {}), unreported: true };
		if (JSON.stringify(records.last) !== JSON.stringify(unreported))
			records.last = unreported;
		if (await this.#report(last.state, { ...(last.error ? { error: last.error } : {}), ...(target ? { target } : {}) }))
			records.last = { ...last, ...(target ? { target } : {}) };
	}

	/** The firmware's last outcome, then the config's, sent again where the server has not had them: the sending, or
	 * undefined when there is nothing to send (a check then awaits nothing, README "Memory"). */
	#reportAllAgain(): Promise<void> | undefined {
		const again = this.#reportAgain();
		return again ? again.then(() => this.#reportConfigAgain()) : this.#reportConfigAgain();
	}

	/** Sends the last outcome again if the server has not had it (a reset or a lost link came between): the sending,
	 * or undefined when there is nothing to send (not an async function: a check then awaits nothing, README "Memory"). */
	#reportAgain(): Promise<void> | undefined {
		const last = this.#records.last;
		if (!last?.unreported)
			return undefined;
		const { unreported: _, target, ...outcome } = last;
		this.#event("report-again", { state: last.state });
		return this.#settle(outcome, target);
	}

	/** Everything a manifest's judgement depends on besides its bytes: the running firmware, the counters, the slot it
	 * would go to, the config (its sequence and its keys). A judgement recorded in one state is not taken for another:
	 * a change of any of these sends the next request unconditionally. (The time counts only for `expired`, which is
	 * never recorded: with or without a clock, no other outcome that is recorded could become an update.) */
	#judgedState(): string {
		const records = this.#records, of = this.#stateOf;
		const sequence = records.sequence, securityVersion = records.securityVersion, failed = records.failedSequence;
		const slotSize = this.#ports.flash.next().size, loaded = this.#loaded ? this.#loaded.sequence : -2;
		// the firmware and the keys are fixed for the client's life; the counters are read afresh and compared
		if (of[0] !== sequence || of[1] !== securityVersion || of[2] !== failed || of[3] !== slotSize || of[4] !== loaded) {
			of[0] = sequence; of[1] = securityVersion; of[2] = failed; of[3] = slotSize; of[4] = loaded;
			this.#state = [this.#firmware.version, this.#firmware.kind, sequence, securityVersion, failed, slotSize,
				loaded === -2 ? "-" : loaded, this.#keysCrc].join("|");
		}
		return this.#state;
	}

	/** The ETag to name in If-None-Match: the last manifest judged for good, while the state it was judged in holds. */
	#conditionalEtag(): string | undefined {
		const judged = this.#records.judged;
		return judged && judged.state === this.#judgedState() ? judged.etag : undefined;
	}

	/** A manifest's outcome is final (up to date, declined by policy, rejected for good): its ETag is recorded with the
	 * state it was judged in, so that the next poll may ask conditionally. Written only when it changes. */
	#recordJudged(etag: string | undefined): void {
		if (usableEtag(etag) === undefined)
			return;
		const state = this.#judgedState();
		if (state.length > MAX_JUDGED_STATE)
			return;
		const judged = this.#records.judged;
		if (!judged || judged.etag !== etag || judged.state !== state)
			this.#records.judged = { etag: etag!, state };
	}

	/** Asks for the manifest; `conditional`: with If-None-Match when a judgement holds (the trial's check of the
	 * server never is: it verifies a manifest). A manifest that differs from the recorded judgement drops the record
	 * before it is judged, so that a power cut before its outcome leaves no ETag to send. */
	#fetchManifest(conditional: boolean): Promise<ManifestAnswer> {
		const timeout = this.#config.timeoutSeconds * 1000;
		const headers: [string, string][] = [[VERSION_HEADER, this.#firmware.version]];
		if (this.#loaded)
			headers.push([CONFIG_HEADER, String(this.#loaded.sequence)]);
		const sent = conditional ? this.#conditionalEtag() : undefined;
		if (sent !== undefined)
			headers.push([IF_NONE_MATCH_HEADER, sent]);
		return fetchBounded(this.#ports.transport, this.#ports.clock, this.manifestUrl, MAX_MANIFEST_BYTES, timeout,
			this.#limits(this.#config.requestDeadlineSeconds), headers).then((fetched) => this.#manifestAnswer(fetched, sent), oversized);
	}

	/** What a manifest response says (#fetchManifest); `sent`: the ETag the request named in If-None-Match. */
	#manifestAnswer(fetched: Fetched, sent: string | undefined): ManifestAnswer {
		// the server's hint that it holds a newer config document: unauthenticated, it only makes the device ask
		const hint = fetched.headers[CONFIG_PENDING_HEADER];
		this.#configPending = hint !== undefined && CONFIG_HINT.test(hint) && Number.isSafeInteger(Number(hint)) ? Number(hint) : 0;
		if (fetched.status === 404 || fetched.status === 204)
			return { kind: "none" };
		if (fetched.status === NOT_MODIFIED) {
			// "nothing new" only as the answer to the ETag the device named; unasked, or naming another ETag, it is a
			// server's mistake and says nothing of the manifest
			const named = fetched.headers["etag"];
			if (sent === undefined)
				throw new TransientError(`HTTP 304 for the manifest, which was asked for unconditionally`);
			if (named !== undefined && named !== sent)
				throw new TransientError(`HTTP 304 for the manifest names ETag ${named.slice(0, 40)}, not the ${sent} asked about`);
			return { kind: "not-modified" };
		}
		if (fetched.status !== 200) {
			const says = serverError(fetched.body);
			throw new TransientError(`HTTP ${fetched.status} for the manifest${says ? ` (${says})` : ""}`, retryAfter(fetched.headers["retry-after"], this.#ports.clock.wall()));
		}
		// nothing at all is a failed transfer (libcurl reports success for a response cut in its headers), not a manifest
		if (fetched.body.length === 0)
			throw new TransientError("the manifest response was empty");
		const etag = fetched.headers["etag"];
		const judged = this.#records.judged;
		if (judged && judged.etag !== etag)
			this.#records.judged = undefined;
		return { kind: "body", body: fetched.body, etag };
	}

	/** Verifies a manifest's signature and parses it; UpdateRejected when it does not open. `failed` is called when the
	 * verifier itself threw (out of memory, say): a refusal then says nothing final about the bytes. */
	#openManifest(body: Uint8Array, failed?: () => void): UpdateManifest {
		const verifier = this.#ports.verifier;
		const opened = openSignedManifest(body, this.#config.keys, (s, m, k) => {
			try {
				return verifier.verify(s, m, k);
			} catch (error) {
				failed?.();
				throw error;
			}
		});
		if (!opened.ok)
			throw new UpdateRejected(opened.reason, opened.detail);
		return opened.manifest;
	}

	async #serverReachable(): Promise<void> {
		const answer = await this.#fetchManifest(false);
		const manifest = answer.kind === "body" ? this.#openManifest(answer.body) : undefined;
		if (manifest && manifest.product !== this.#config.product)
			throw new Error(`the server offers ${manifest.product}, not ${this.#config.product}`);
	}

	/** One round of checking for an update. Reboots the device when an update is activated. */
	async check(): Promise<CheckOutcome> {
		if (this.#busy)
			return { result: "none", why: "busy" };
		this.#busy = true;
		try {
			return await this.#check();
		} finally {
			this.#busy = false;
		}
	}

	async #check(): Promise<CheckOutcome> {
		const { flash, events, clock } = this.#ports;
		const records = this.#records;
		this.#event("check", { url: this.manifestUrl });
		const again = this.#reportAllAgain();
		if (again)
			await again;
		let manifest: UpdateManifest | undefined;
		let config: Extract<OpenedConfig, { ok: true }> | CheckOutcome | undefined;
		/** the ETag of the manifest being judged, until its outcome is final (recorded) or its download begins */
		let judging: string | undefined;
		try {
			for (let attempt = 1; ; attempt++) {
				manifest = undefined;
				judging = undefined;
				const answer = await this.#fetchManifest(true);
				if (answer.kind === "body") {
					judging = answer.etag;
					manifest = this.#openManifest(answer.body, () => { judging = undefined; });
				}
				if (attempt === 1 && this.#configDue()) { // a config document first: firmware waits for the next round
					judging = undefined; // the manifest was not judged
					config = await this.#fetchConfig();
					break;
				}
				if (answer.kind === "not-modified") { // the manifest judged last, in this same state: judged already
					this.#event("none", { why: "not-modified" });
					return { result: "none", why: "not-modified" };
				}
				if (!manifest) {
					this.#event("none", { why: "no-release" });
					return { result: "none", why: "no-release" };
				}
				this.#event("manifest", { version: manifest.version, sequence: manifest.sequence, securityVersion: manifest.securityVersion, size: manifest.image.size });
				const slot = flash.next();
				const verdict = evaluate(manifest, {
					product: this.#config.product,
					kind: this.#firmware.kind,
					version: this.#firmware.version,
					securityVersion: records.securityVersion,
					sequence: records.sequence,
					failedSequence: records.failedSequence,
					slotSize: slot.size,
					wallMs: clock.wall(),
				});
				if (!verdict.update) {
					this.#recordJudged(judging);
					this.#event("none", { why: verdict.why, version: manifest.version });
					return { result: "none", why: verdict.why };
				}
				const window = checkWindow(this.#config.window, clock.wall(), this.#config.withoutClock);
				if (!window.open) {
					this.#event("held", { reason: window.reason, waitMs: window.waitMs });
					return { result: "deferred", reason: window.reason, waitMs: window.waitMs };
				}
				judging = undefined; // from here on the outcome is the download's, and no outcome of it is recorded
				const progress = records.progress;
				if (attempt === 1 && !(progress && progress.sequence === manifest.sequence && progress.sha256 === manifest.image.sha256))
					await this.#report("downloading", { target: manifest.version }); // once, when a release's download begins
				try {
					await downloadImage({ transport: this.#ports.transport, flash, events, clock }, records, {
						url: resolveUrl(this.manifestUrl, manifest.image.url),
						sequence: manifest.sequence,
						size: manifest.image.size,
						sha256: manifest.image.sha256,
						slot,
						chunkBytes: this.#config.chunkBytes,
						timeoutMs: this.#config.timeoutSeconds * 1000,
						limits: this.#limits(this.#config.imageDeadlineSeconds),
					});
					break;
				} catch (error) {
					// the server says when to come back (a busy server's 503): the poll honours it, not a retry now
					if (!(error instanceof TransientError) || attempt >= this.#attempts || error.retryAfterMs > 0)
						throw error;
					this.#event("retry", { attempt, error: error.message });
					if (!(error instanceof ImageChanged))
						await new Promise<void>((resolve) => clock.after(Math.min(1000 * 2 ** (attempt - 1), 8000), resolve));
				}
			}
		} catch (error) {
			if (error instanceof UpdateRejected) {
				// a manifest refused before its download (its signature, its fields, the device's counters): the same
				// bytes in the same state would be refused again; not `expired`, which a clock set right may undo
				if (judging !== undefined && error.reason !== "expired")
					this.#recordJudged(judging);
				this.#event("reject", { reason: error.reason, detail: error.message });
				if (manifest && BAD_TRANSFER.includes(error.reason)) {
					// The server's copy was bad, not the release: try again from zero (the download record is gone)
					// at the next check, and give the release up only after MAX_BAD_TRANSFERS in a row.
					const count = records.countBadTransfer(manifest.sequence);
					if (count >= MAX_BAD_TRANSFERS) {
						records.failedSequence = manifest.sequence;
						this.#event("skip", { sequence: manifest.sequence, reason: "bad-transfers", count });
					}
					else
						this.#event("retry-later", { sequence: manifest.sequence, reason: error.reason, count, max: MAX_BAD_TRANSFERS });
				}
				else if (manifest && error.reason === "not-bootable")
					records.failedSequence = manifest.sequence; // the signed bytes themselves: as #activate decides
				await this.#settle({ state: "rejected", version: manifest?.version ?? "", error: error.reason }, manifest?.version);
				return { result: "rejected", reason: error.reason, detail: error.message };
			}
			const detail = error instanceof Error ? error.message : String(error);
			const retryAfterMs = error instanceof TransientError ? error.retryAfterMs : 0;
			this.#event("error", { detail, ...(retryAfterMs ? { retryAfterMs } : {}) });
			return { result: "error", detail, retryAfterMs };
		}
		if (config)
			return "result" in config ? config : this.#activateConfig(config);
		this.#event("verified", { version: manifest!.version, sha256: manifest!.image.sha256 });
		return this.#activate(manifest!);
	}

	/** Before anything that ends in a restart (an image's activation, a config's trial copy): the app's holds are
	 * waited for, and outside the maintenance window the round is deferred (the outcome returned). Not an async
	 * function: with no hold there is nothing to wait for, and the answer comes at once (a check awaits only what it
	 * must: README, "Memory"); with a hold, a Promise of the answer once the holds are released. */
	#restartAllowed(): Promise<CheckOutcome | undefined> | CheckOutcome | undefined {
		if (this.#holds.held) {
			this.#event("held", { reason: "app", holds: this.#holds.reasons });
			return this.#holds.released().then(() => this.#windowDeferral());
		}
		return this.#windowDeferral();
	}

	/** The deferral when the maintenance window is closed, or undefined. */
	#windowDeferral(): CheckOutcome | undefined {
		const window = checkWindow(this.#config.window, this.#ports.clock.wall(), this.#config.withoutClock);
		if (!window.open) {
			this.#event("held", { reason: window.reason, waitMs: window.waitMs });
			return { result: "deferred", reason: window.reason, waitMs: window.waitMs };
		}
		return undefined;
	}

	async #activate(manifest: UpdateManifest): Promise<CheckOutcome> {
		const { flash } = this.#ports;
		const allowed = this.#restartAllowed();
		const deferred = allowed instanceof Promise ? await allowed : allowed;
		if (deferred)
			return deferred;
		const slot = flash.next();
		this.#records.clearBadTransfers();
		this.#records.pending = {
			sequence: manifest.sequence,
			version: manifest.version,
			securityVersion: manifest.securityVersion,
			sha256: manifest.image.sha256,
			kind: manifest.image.kind,
			size: manifest.image.size,
			slot: slot.index,
			fromVersion: this.#firmware.version,
			stage: "activated",
		};
		try {
			// verified in the download's one pass, so this reads nothing again, unless the slot changed since (or the
			// ESP32's esp_ota_set_boot_partition, which always checks): then it checks the image itself
			flash.activate(slot);
		} catch (error) {
			// the bytes are the signed ones (the digest matched), yet the bootloader's checks refuse them
			const detail = `activate ${slot.label}: ${error instanceof Error ? error.message : String(error)}`;
			this.#records.pending = undefined;
			this.#records.progress = undefined;
			this.#records.failedSequence = manifest.sequence;
			this.#event("reject", { reason: "not-bootable", detail });
			await this.#settle({ state: "rejected", version: manifest.version, error: "not-bootable" }, manifest.version);
			return { result: "rejected", reason: "not-bootable", detail };
		}
		this.#records.progress = undefined;
		this.#event("activate", { slot: slot.label, version: manifest.version });
		await this.#report("activating", { target: manifest.version });
		if (this.#holds.held) // a hold taken while reporting still wins
			await this.#holds.released();
		this.#event("reboot", { reason: "update" });
		flash.reboot();
		return { result: "activated", version: manifest.version };
	}

	/** On every start. A pending image runs its trial here; the old image learns here that the new one was rolled
	 * back, and why: a failed trial, a crash or a hang is the image's fault and skips its release for good; a power
	 * loss before or during the trial, or while a passed trial was being confirmed, is not, and the release is
	 * activated again (at most MAX_INTERRUPTED times in a row). */
	async boot(): Promise<BootOutcome> {
		await this.#bootConfig();
		const { flash } = this.#ports;
		const records = this.#records;
		const running = flash.running();
		const pending = records.pending;
		if (running.state === "pending-verify")
			return this.#trial(pending);
		if (pending && pending.slot === running.index) {
			if (pending.stage === "confirming" && running.state === "valid") {
				this.#confirm(pending); // marked valid before a reset cut the bookkeeping short
				await this.#settle({ state: "valid", version: pending.version });
				return { state: "confirmed", version: pending.version };
			}
			// The promised image runs outside its trial without having passed one: the bootloader reached it
			// through an otadata entry that is not the activation's (a lost sector). It is tried before it is trusted.
			this.#event("untried", { version: pending.version, state: running.state, stage: pending.stage });
			this.#adoptRunning(running);
			return this.#trial(pending);
		}
		const progress = records.progress;
		if (!pending && progress && progress.slot === running.index) {
			// the slot a download was writing into runs, with no activation on record: the bootloader fell back to
			// it (otadata lost). Its bytes were never tried: they are, before anything trusts them.
			this.#event("untried", { state: running.state, sequence: progress.sequence, offset: progress.offset, size: progress.size });
			records.progress = undefined;
			this.#adoptRunning(running);
			return this.#trial(undefined);
		}
		if (pending) {
			const cause = flash.lastReset();
			const interrupt = pending.failure ? (pending.failedCheck === SERVER_CHECK ? "server-check-failed" : undefined)
				: interruption(pending.stage, cause);
			if (interrupt) {
				const count = records.countInterrupted(pending.sequence);
				if (count <= MAX_INTERRUPTED)
					return this.#interrupted(pending, interrupt, cause, count);
			}
			const reason = pending.failure ?? (interrupt ? `interrupted-too-often: ${interrupt} ${MAX_INTERRUPTED + 1} times`
				: pending.stage === "activated" ? "new-image-did-not-start" : "selftest-crashed-or-hung");
			records.failedSequence = pending.sequence;
			records.pending = undefined;
			records.clearInterrupted();
			this.#event("rollback", { from: pending.version, to: this.#firmware.version, reason, reset: cause });
			await this.#settle({ state: "rolled-back", version: pending.version, error: reason }, pending.version);
			return { state: "rolled-back", from: pending.version, reason };
		}
		const again = this.#reportAllAgain();
		if (again)
			await again;
		return { state: "running" };
	}

	/** Before an untried image that runs outside a trial is tried: otadata is made to name its slot (in state NEW,
	 * as an activation does), so that the trial's markValid has an entry to mark, and a reset during the trial
	 * brings this image back to its trial rather than to whatever otadata said before. */
	#adoptRunning(running: Slot): void {
		this.#ports.flash.activate(running);
	}

	/** The new image could not prove itself through no fault shown to be its own (the power went, or the update
	 * server failed its check: the old image checks the server before it activates again). The image stays in its
	 * slot, and a download record that says it is complete lets the next check verify its digest and activate it. */
	async #interrupted(pending: Pending, reason: InterruptReason, cause: ResetCause, count: number): Promise<BootOutcome> {
		const records = this.#records;
		if (pending.size !== undefined)
			records.progress = { sequence: pending.sequence, sha256: pending.sha256, size: pending.size, slot: pending.slot, offset: pending.size };
		records.pending = undefined;
		this.#event("interrupted", { version: pending.version, reason, reset: cause, count, max: MAX_INTERRUPTED, ...(pending.failure ? { detail: pending.failure } : {}) });
		await this.#settle({ state: "interrupted", version: pending.version, error: pending.failure ? `${reason}: ${pending.failure}` : reason }, pending.version);
		return { state: "interrupted", version: pending.version, reason };
	}

	async #trial(pending: Pending | undefined): Promise<BootOutcome> {
		const { flash, clock, watchdog } = this.#ports;
		const records = this.#records;
		if (pending) {
			pending.stage = "selftest";
			records.pending = pending;
		}
		// the promise is checked only against the image it was made for (a stale record names the other slot)
		const wrong = pending && pending.slot === flash.running().index ? this.#wrongImage(pending) : undefined;
		if (wrong) {
			const reason = `wrong-image: ${wrong}`;
			this.#event("selftest", { result: "fail", reason });
			pending!.failure = reason;
			records.pending = pending;
			this.#event("reboot", { reason: "rollback" });
			flash.markInvalidAndReboot();
			throw new Error("markInvalidAndReboot returned"); // unreachable on a device
		}
		this.#event("selftest", { result: "start", version: this.#firmware.version });
		const result = await runTrial(this.#checks, {
			clock,
			watchdog,
			deadlineMs: this.#config.selftestSeconds * 1000,
			watchdogMs: this.#watchdogMs,
			onCheck: (name, ok, detail) => this.#event("selftest-check", { name, ok, ...(detail ? { detail } : {}) }),
		});
		if (!result.ok) {
			const reason = `selftest-failed: ${result.failed}: ${result.reason}`;
			this.#event("selftest", { result: "fail", reason });
			if (pending) {
				pending.failure = reason;
				pending.failedCheck = result.failed;
				records.pending = pending;
			}
			this.#event("reboot", { reason: "rollback" });
			flash.markInvalidAndReboot();
			throw new Error("markInvalidAndReboot returned"); // unreachable on a device
		}
		this.#event("selftest", { result: "pass", checks: result.passed });
		if (pending) { // a power loss from here on is not the image's fault: it passed
			pending.stage = "confirming";
			records.pending = pending;
		}
		flash.markValid();
		this.#event("valid", { version: this.#firmware.version });
		if (pending)
			this.#confirm(pending);
		await this.#settle({ state: "valid", version: this.#firmware.version });
		return { state: "confirmed", version: this.#firmware.version };
	}

	/** Why the running image is not the one the manifest promised, or undefined when it is: the version and kind it
	 * reports (from its build), and the SHA-256 of the running slot over the promised size. A record written by an
	 * older client has no kind or size; the version is still checked. */
	#wrongImage(pending: Pending): string | undefined {
		const firmware = this.#firmware;
		if (firmware.version !== pending.version)
			return `the manifest promised ${pending.version}, the image reports ${firmware.version}`;
		if (pending.kind !== undefined && firmware.kind !== pending.kind)
			return `the manifest promised a ${pending.kind} image, this firmware is ${firmware.kind}`;
		if (pending.size !== undefined) {
			const { flash } = this.#ports;
			const digest = toHex(flash.sha256(flash.running(), pending.size));
			if (digest !== pending.sha256)
				return `the running slot's SHA-256 ${digest.slice(0, 16)}… is not the promised ${pending.sha256.slice(0, 16)}…`;
		}
		return undefined;
	}

	/** After markValid: raise the anti-rollback counter and the sequence, then drop the pending record. */
	#confirm(pending: { securityVersion: number; sequence: number; version: string }): void {
		// first what the server is to be told: once the pending record is gone, nothing else would say it
		this.#records.last = { state: "valid", version: pending.version, unreported: true };
		this.#records.raiseSecurityVersion(pending.securityVersion);
		this.#records.raiseSequence(pending.sequence);
		this.#records.clearInterrupted();
		this.#records.pending = undefined;
	}

	/** Whether to take a config document now: the server holds one newer than the config, not one that failed here. */
	#configDue(): boolean {
		const loaded = this.#loaded, pending = this.#configPending;
		if (!pending || !loaded || pending <= loaded.sequence || pending === this.#records.configFailed)
			return false;
		if (!this.#ports.configFlash || !this.#sha256) {
			this.#event("config-unsupported", { sequence: pending });
			return false;
		}
		return true;
	}

	/** Records a config outcome and reports it; the record says "unreported" until the server has it. */
	async #settleConfig(result: ConfigResult): Promise<void> {
		const unreported = { ...result, unreported: true };
		if (JSON.stringify(this.#records.configLast) !== JSON.stringify(unreported))
			this.#records.configLast = unreported;
		const { state, target, error } = result;
		if (await this.#report(state, { configTarget: target, ...(error ? { error } : {}) }))
			this.#records.configLast = { state, target, ...(error ? { error } : {}) };
	}

	/** The config's outcome sent again if the server has not had it: the sending, or undefined (as #reportAgain). */
	#reportConfigAgain(): Promise<void> | undefined {
		const last = this.#records.configLast;
		if (!last?.unreported)
			return undefined;
		this.#event("report-again", { state: last.state, configTarget: last.target });
		const { unreported: _, ...result } = last;
		return this.#settleConfig(result);
	}

	/** Fetches the config document the server holds for this device and opens it as strictly as a manifest: the
	 * opened document, or the outcome when there is none or it is refused (a refusal changes nothing and is
	 * reported). Network errors are thrown, as the manifest's are. */
	async #fetchConfig(): Promise<Extract<OpenedConfig, { ok: true }> | CheckOutcome> {
		const loaded = this.#loaded!, records = this.#records;
		const { clock } = this.#ports;
		const url = `${this.#config.server}${configPath(this.#config.deviceId)}`;
		this.#event("config-check", { url, pending: this.#configPending, running: loaded.sequence });
		let fetched;
		try {
			fetched = await fetchBounded(this.#ports.transport, clock, url, MAX_CONFIG_DOC_BYTES, this.#config.timeoutSeconds * 1000,
				this.#limits(this.#config.requestDeadlineSeconds));
		}
		catch (error) {
			if (!(error instanceof TooLarge))
				throw error;
			return this.#refuseConfig("oversized", error.message, this.#configPending);
		}
		if (fetched.status === 204 || fetched.status === 404) {
			this.#event("none", { why: "no-config-document" });
			return { result: "none", why: "no-config-document" };
		}
		if (fetched.status !== 200) {
			const says = serverError(fetched.body);
			throw new TransientError(`HTTP ${fetched.status} for the config document${says ? ` (${says})` : ""}`, retryAfter(fetched.headers["retry-after"], clock.wall()));
		}
		const opened = openConfigDoc(fetched.body, { config: this.#config, raw: loaded.raw, sequence: loaded.sequence, failedSequence: records.configFailed },
			(s, m, k) => this.#ports.verifier.verify(s, m, k), this.#sha256!);
		if (!opened.ok)
			return this.#refuseConfig(opened.reason, opened.detail, opened.sequence ?? this.#configPending);
		this.#event("config-verified", { sequence: opened.doc.sequence, keyId: opened.doc.keyId });
		return opened;
	}

	/** Writes a verified document's config as a trial copy and reboots into its trial (after the app's holds and
	 * within the maintenance window, as an image's activation). */
	async #activateConfig(opened: Extract<OpenedConfig, { ok: true }>): Promise<CheckOutcome> {
		const loaded = this.#loaded!, configFlash = this.#ports.configFlash!, records = this.#records;
		const { sequence } = opened.doc;
		const allowed = this.#restartAllowed();
		const deferred = allowed instanceof Promise ? await allowed : allowed;
		if (deferred)
			return deferred;
		records.configTrial = undefined;
		let written;
		try {
			written = writeTrialCopy(configFlash, loaded, opened.raw, sequence);
		}
		catch (error) {
			// a record that does not fit its area is refused before the area is erased (the natives' RangeError): the
			// copy in use is untouched and the document is refused for good, with the reason; other errors propagate
			if (!(error instanceof RangeError))
				throw error;
			return this.#refuseConfig("oversized", `write the trial copy of config ${sequence}: ${error.message}`, sequence);
		}
		this.#event("config-activate", { sequence, area: written.area, count: written.count });
		await this.#settleConfig({ state: "config-trying", target: sequence });
		if (this.#holds.held)
			await this.#holds.released();
		this.#event("reboot", { reason: "config" });
		this.#ports.flash.reboot();
		return { result: "config-activated", sequence };
	}

	async #refuseConfig(reason: string, detail: string, sequence: number): Promise<CheckOutcome> {
		this.#event("config-reject", { reason, detail, sequence });
		await this.#settleConfig({ state: "config-rejected", target: sequence, error: reason });
		return { result: "rejected", reason, detail };
	}

	/** On every start, before the firmware's own: a config on trial is tried (or, if a reset cut its trial short,
	 * rolled back); a trial that passed marks its copy confirmed. */
	async #bootConfig(): Promise<void> {
		const loaded = this.#loaded, records = this.#records;
		if (!loaded)
			return;
		this.#event("config", { sequence: loaded.sequence, source: loaded.source, area: loaded.area, count: loaded.count, trial: loaded.trial });
		if (loaded.damaged.length)
			this.#event("config-damaged", { areas: loaded.damaged, source: loaded.source });
		const trial = records.configTrial;
		if (!loaded.trial) {
			if (trial) // the trial copy is gone: its rollback erased it (the outcome is recorded) or a cut tore it
				records.configTrial = undefined;
			return;
		}
		if (trial && trial.count === loaded.count) {
			if (trial.stage === "failed")
				return this.#rollbackConfig(trial); // a reset cut the rollback short
			// a power loss is not the config's fault: it is tried again, a bounded number of times (a config that
			// browns the board out at every trial does not loop for ever); a crash or the watchdog is its fault
			const cause = this.#ports.flash.lastReset();
			const power = POWER_LOSS.includes(cause);
			const count = power ? records.countConfigInterrupted(trial.sequence) : 0;
			const retry = power && count <= MAX_INTERRUPTED;
			return this.#rollbackConfig({ ...trial, stage: "failed", retry,
				failure: retry ? "power-loss-in-config-trial" : power ? `interrupted-too-often: power-loss-in-config-trial ${count} times`
					: `config-trial-crashed-or-hung: reset by ${cause}` });
		}
		records.configTrial = { sequence: loaded.sequence, count: loaded.count, stage: "selftest" };
		this.#event("config-selftest", { result: "start", sequence: loaded.sequence });
		const result = await runTrial(this.#checks, {
			clock: this.#ports.clock,
			watchdog: this.#ports.watchdog,
			deadlineMs: this.#config.selftestSeconds * 1000,
			watchdogMs: this.#watchdogMs,
			onCheck: (name, ok, detail) => this.#event("selftest-check", { name, ok, ...(detail ? { detail } : {}) }),
		});
		if (!result.ok)
			return this.#rollbackConfig({ sequence: loaded.sequence, count: loaded.count, stage: "failed",
				failure: `config-selftest-failed: ${result.failed}: ${result.reason}` });
		// first what the server is to be told: once the copy is confirmed, nothing else would say it
		records.configLast = { state: "config-valid", target: loaded.sequence, unreported: true };
		records.configConfirmed = loaded.count;
		records.configTrial = undefined;
		this.#loaded = { ...loaded, trial: false };
		this.#event("config-valid", { sequence: loaded.sequence, checks: result.passed });
		await this.#settleConfig({ state: "config-valid", target: loaded.sequence });
	}

	/** The config on trial failed (or the power cut its trial): the outcome is recorded, to be reported once the
	 * previous config runs again; the trial copy is erased, and the device restarts on the previous copy. */
	#rollbackConfig(trial: ConfigTrial): never {
		const records = this.#records, loaded = this.#loaded!;
		records.configTrial = trial;
		if (!trial.retry)
			records.configFailed = trial.sequence;
		records.configLast = { state: trial.retry ? "config-interrupted" : "config-rolled-back", target: trial.sequence, error: trial.failure, unreported: true };
		this.#event("config-rollback", { sequence: trial.sequence, reason: trial.failure, retry: trial.retry === true });
		this.#ports.configFlash!.erase(loaded.area as "working-1" | "working-2");
		records.configTrial = undefined;
		this.#event("reboot", { reason: "config-rollback" });
		this.#ports.flash.reboot();
		throw new Error("reboot returned"); // unreachable on a device
	}

	/** Polls until stop(): the first check comes after a random part of the interval, to spread a fleet. */
	start(): void {
		if (this.#cancelPoll)
			return;
		const { clock } = this.#ports;
		const schedule = (delay: number) => {
			this.#event("next-check", { inMs: delay });
			this.#cancelPoll = clock.after(delay, async () => {
				const outcome = await this.check();
				if (!this.#cancelPoll)
					return;
				// A server that says when to come back (a busy server's 503, a maintenance window) is asked again then:
				// it spread its answer itself, and a device that grew its own back-off on top would miss its turn.
				const told = outcome.result === "error" && outcome.retryAfterMs > 0 ? outcome.retryAfterMs : 0;
				if (outcome.result === "error" && !told)
					this.#failures++;
				else if (!told)
					this.#failures = 0;
				let delay = told || nextDelay(this.#config, this.#failures, clock.random());
				if (outcome.result === "deferred")
					delay = Math.min(delay, outcome.waitMs);
				schedule(delay);
			});
		};
		schedule(Math.round(this.#config.pollSeconds * 1000 * this.#config.jitter * clock.random()));
	}

	stop(): void {
		this.#cancelPoll?.();
		this.#cancelPoll = undefined;
	}
}
