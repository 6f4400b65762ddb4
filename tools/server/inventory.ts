// The fleet as the server last heard it: one record per device, from its check-ins.
export interface DeviceRecord {
	deviceId: string;
	product: string;
	version: string;
	state: string;
	lastError?: string;
	target?: string;
	securityVersion?: number;
	sequence?: number;
	slot?: number;
	lastSeen: string;
	reports: number;
}

const STRING = (value: unknown, max = 200) => typeof value === "string" && value.length > 0 && value.length <= max;

export class ReportError extends Error {}

export class Inventory {
	readonly devices = new Map<string, DeviceRecord>();

	/** Takes a check-in; throws ReportError for a malformed one. */
	report(deviceId: string, body: any, now = new Date()): DeviceRecord {
		if (!STRING(deviceId, 64) || !/^[\w.-]+$/.test(deviceId))
			throw new ReportError("bad device id");
		if (typeof body !== "object" || body === null)
			throw new ReportError("the report must be a JSON object");
		if (body.deviceId !== undefined && body.deviceId !== deviceId)
			throw new ReportError("deviceId in the body does not match the URL");
		for (const field of ["product", "version", "state"])
			if (!STRING(body[field]))
				throw new ReportError(`${field} must be a non-empty string`);
		const previous = this.devices.get(deviceId);
		const record: DeviceRecord = {
			deviceId,
			product: body.product,
			version: body.version,
			state: body.state,
			...(STRING(body.error, 500) ? { lastError: body.error } : previous?.lastError && body.state !== "valid" ? { lastError: previous.lastError } : {}),
			...(STRING(body.target) ? { target: body.target } : {}),
			...(Number.isInteger(body.securityVersion) ? { securityVersion: body.securityVersion } : {}),
			...(Number.isInteger(body.sequence) ? { sequence: body.sequence } : {}),
			...(Number.isInteger(body.slot) ? { slot: body.slot } : {}),
			lastSeen: now.toISOString(),
			reports: (previous?.reports ?? 0) + 1,
		};
		this.devices.set(deviceId, record);
		return record;
	}
	list(): DeviceRecord[] {
		return [...this.devices.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
	}
}
