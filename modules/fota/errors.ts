// Why an update did not happen, as one code for the event log and the server, and a detail for people.
export type RejectReason =
	| "oversized" | "malformed" | "unknown-format" | "missing-field" | "wrong-type" | "unknown-key" | "bad-signature"
	| "wrong-product" | "wrong-kind" | "security-downgrade" | "replay" | "expired" | "too-large"
	| "size-mismatch" | "digest-mismatch" | "body-too-long";

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
