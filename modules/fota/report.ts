// Check-ins to the update server: running version, state and last error. Best effort: a report that
// cannot be sent is logged and dropped, never retried in a tight loop. A report is awaited before a reboot and at
// boot, so it is bounded: its deadline (reportDeadlineSeconds) and the rate bound end it, and an answer longer
// than MAX_REPORT_ANSWER bytes is not read.
import { watchTransfer } from "./transfer.js";
import { reportPath, type ConfigSource, type ReportState } from "./protocol.js";
import { reportableConfig, type DeviceConfig } from "./config.js";
import type { Clock, EventSink, Transport } from "./ports.js";

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

export function sendReport(transport: Transport, clock: Clock, config: DeviceConfig, events: EventSink, report: Report, origin?: ConfigOrigin): Promise<boolean> {
	const body = JSON.stringify({ deviceId: config.deviceId, product: config.product, ...report,
		config: { sha256: config.digest, fields: reportableConfig(config), ...origin } });
	return new Promise((resolve) => {
		let status = 0, answered = 0, ended = false;
		const end = (error?: string) => {
			if (ended)
				return;
			ended = true;
			watch.stop();
			const ok = !error && status >= 200 && status < 300;
			events("report", { state: report.state, ok, ...(ok ? {} : { error: error ?? `HTTP ${status}` }) });
			resolve(ok);
		};
		const watch = watchTransfer(clock, {
			deadlineMs: config.reportDeadlineSeconds * 1000,
			minBytesPerSecond: config.minRateBytesPerSecond,
			windowMs: Math.min(config.rateWindowSeconds, config.reportDeadlineSeconds) * 1000,
		}, (why) => {
			request.abort();
			end(why);
		});
		const request = transport.request({
			url: config.server + reportPath(config.deviceId),
			method: "POST",
			headers: [["Content-Type", "application/json"]],
			body,
			timeout: Math.min(config.timeoutSeconds, config.reportDeadlineSeconds) * 1000,
		}, {
			response(code) { status = code; },
			data(chunk) {
				answered += chunk.length;
				watch.received(chunk.length);
				if (answered > MAX_REPORT_ANSWER) {
					request.abort();
					end(`the answer is longer than ${MAX_REPORT_ANSWER} bytes`);
				}
			},
			done(error) {
				end(error);
			},
		});
	});
}
