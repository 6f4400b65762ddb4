// Check-ins to the update server: running version, state and last error. Best effort: a report that
// cannot be sent is logged and dropped, never retried in a tight loop. A report is awaited before a reboot and at
// boot, so it is bounded: its deadline (reportDeadlineSeconds) and the rate bound end it, and an answer longer
// than MAX_REPORT_ANSWER bytes is not read.
import { watchTransfer, type TransferWatch } from "./transfer.js";
import { reportPath, type ConfigSource, type ReportState } from "./protocol.js";
import { reportableConfig, type DeviceConfig } from "./config.js";
import type { Clock, EventSink, ResponseSink, Transport } from "./ports.js";

/** The most of a report's answer that is read: the device needs only its status. */
export const MAX_REPORT_ANSWER = 1024;

export interface Report {
	version: string;
	state: ReportState;
	error?: string;
	securityVersion: number;
	sequence: number;
	slot: number;
	target?: string;
	progress?: number;
	/** the config document a config-* state concerns */
	configTarget?: number;
}

/** Where the device's config comes from (config-store.ts): reported beside its digest and fields. */
export interface ConfigOrigin {
	sequence: number;
	source: ConfigSource;
	/** copies that did not check out */
	lost?: string[];
}

/** A report under way: one object is its response sink and its transfer watch's callback, with the state in fields,
 * so that a report costs this object, its Promise, its body and its watch rather than a closure per event and per
 * bound (README, "Memory"). */
class ReportSend implements ResponseSink {
	private readonly events: EventSink;
	private readonly state: ReportState;
	private status = 0;
	private answered = 0;
	private ended = false;
	private request: { abort(): void } | undefined;
	private watch: TransferWatch | undefined;
	private resolve: ((ok: boolean) => void) | undefined;
	private reject: ((error: unknown) => void) | undefined;

	constructor(events: EventSink, state: ReportState) {
		this.events = events;
		this.state = state;
	}

	start(transport: Transport, clock: Clock, config: DeviceConfig, body: string): Promise<boolean> {
		const done = new Promise<boolean>((resolve, reject) => {
			this.resolve = resolve;
			this.reject = reject;
		});
		this.watch = watchTransfer(clock, {
			deadlineMs: config.reportDeadlineSeconds * 1000,
			minBytesPerSecond: config.minRateBytesPerSecond,
			windowMs: Math.min(config.rateWindowSeconds, config.reportDeadlineSeconds) * 1000,
		}, (why) => this.abort(why));
		let request;
		try {
			request = transport.request({
				url: config.server + reportPath(config.deviceId),
				method: "POST",
				headers: [["Content-Type", "application/json"]],
				body,
				timeout: Math.min(config.timeoutSeconds, config.reportDeadlineSeconds) * 1000,
			}, this);
		} catch (error) { // a transport that cannot even start: the report's Promise rejects, as the request's error
			this.ended = true;
			this.watch.stop();
			this.reject!(error);
			return done;
		}
		if (this.ended) // ended from inside request() (a transport that answers at once): abort what it left
			request.abort();
		else
			this.request = request;
		return done;
	}

	private abort(why: string): void {
		this.request?.abort();
		this.end(why);
	}

	private end(error?: string): void {
		if (this.ended)
			return;
		this.ended = true;
		this.watch?.stop();
		const resolve = this.resolve!, status = this.status;
		this.watch = this.resolve = this.reject = this.request = undefined;
		const ok = !error && status >= 200 && status < 300;
		this.events("report", { state: this.state, ok, ...(ok ? {} : { error: error ?? `HTTP ${status}` }) });
		resolve(ok);
	}

	response(code: number): void {
		this.status = code;
	}

	data(chunk: Uint8Array): void {
		if (this.ended)
			return;
		this.answered += chunk.length;
		this.watch!.received(chunk.length);
		if (this.answered > MAX_REPORT_ANSWER)
			this.abort(`the answer is longer than ${MAX_REPORT_ANSWER} bytes`);
	}

	done(error?: string): void {
		this.end(error);
	}
}

export function sendReport(transport: Transport, clock: Clock, config: DeviceConfig, events: EventSink, report: Report, origin?: ConfigOrigin): Promise<boolean> {
	const body = JSON.stringify({ deviceId: config.deviceId, product: config.product, ...report,
		config: { sha256: config.digest, fields: reportableConfig(config), ...origin } });
	return new ReportSend(events, report.state).start(transport, clock, config, body);
}
