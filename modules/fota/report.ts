// Check-ins to the update server: running version, state and last error. Best effort: a report that
// cannot be sent is logged and dropped, never retried in a tight loop.
import type { DeviceConfig } from "./config.js";
import type { EventSink, Transport } from "./ports.js";

export interface Report {
	version: string;
	state: string;
	error?: string;
	securityVersion: number;
	sequence: number;
	slot: number;
	target?: string;
	progress?: number;
}

export function sendReport(transport: Transport, config: DeviceConfig, events: EventSink, report: Report): Promise<boolean> {
	const body = JSON.stringify({ deviceId: config.deviceId, product: config.product, ...report });
	return new Promise((resolve) => {
		let status = 0;
		transport.request({
			url: `${config.server}/v1/devices/${encodeURIComponent(config.deviceId)}/report`,
			method: "POST",
			headers: [["Content-Type", "application/json"]],
			body,
			timeout: config.timeoutSeconds * 1000,
		}, {
			response(code) { status = code; },
			data() {},
			done(error) {
				const ok = !error && status >= 200 && status < 300;
				events("report", { state: report.state, ok, ...(ok ? {} : { error: error ?? `HTTP ${status}` }) });
				resolve(ok);
			},
		});
	});
}
