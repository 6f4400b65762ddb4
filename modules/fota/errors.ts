// Why an update did not happen, as one code for the event log and the server, and a detail for people.
export type RejectReason =
	| "oversized" | "malformed" | "unknown-format" | "missing-field" | "wrong-type" | "unknown-key" | "bad-signature"
	| "wrong-product" | "wrong-kind" | "security-downgrade" | "replay" | "expired" | "too-large"
	| "size-mismatch" | "digest-mismatch" | "body-too-long" | "not-bootable";

/** Why a new image was rolled back: its trial failed, it crashed or hung, or it never started. Failed for good. */
export type RollbackReason =
	| "selftest-failed" | "wrong-image" | "selftest-crashed-or-hung" | "new-image-did-not-start" | "interrupted-too-often";

/** Why an activated image is not running although it was not shown to be at fault: the power went before or during
 * its trial; its trial had passed and the device reset while the image was being marked valid; or only the trial's
 * update-server check failed, which a hostile or broken server causes as well as a broken image. It is activated
 * again, a bounded number of times. */
export type InterruptReason = "power-loss-before-trial" | "power-loss-in-trial" | "reset-while-confirming" | "server-check-failed";

/** Why a config document was refused, before anything was written (docs/format.md, "Config documents"). */
export type ConfigRejectReason =
	| "oversized" | "malformed" | "unknown-format" | "missing-field" | "wrong-type" | "unknown-key" | "bad-signature"
	| "no-config-keys" | "wrong-key-role" | "wrong-product" | "wrong-device" | "replay" | "previously-failed"
	| "secret-field" | "unknown-field" | "invalid-setting";

/** Why a config that was being tried is not kept: a check of its trial failed, the trial crashed or hung (a reset
 * during it), or the power went during the trial or its confirmation (then the document is tried again). */
export type ConfigRollbackReason = "config-selftest-failed" | "config-trial-crashed-or-hung" | "interrupted-too-often";
export type ConfigInterruptReason = "power-loss-in-config-trial";

export class UpdateRejected extends Error {
	override name = "UpdateRejected";
	readonly reason: RejectReason;
	constructor(reason: RejectReason, detail: string) {
		super(`${reason}: ${detail}`);
		this.reason = reason;
	}
}

/** A failure worth retrying later: network, server errors, Retry-After. */
export class TransientError extends Error {
	override name = "TransientError";
	readonly retryAfterMs: number;
	constructor(message: string, retryAfterMs = 0) {
		super(message);
		this.retryAfterMs = retryAfterMs;
	}
}
