// Whether a verified manifest is an update this device should take. Runs only on signed content.
import { UpdateRejected } from "./errors.js";
import { compareSemver, type ImageKind, type UpdateManifest } from "./manifest.js";

export interface DeviceFacts {
	product: string;
	kind: ImageKind;
	version: string;
	/** the stored anti-rollback counter */
	securityVersion: number;
	/** the newest sequence number confirmed on this device */
	sequence: number;
	/** a sequence whose update failed here (rolled back, corrupt image): not tried again */
	failedSequence: number;
	slotSize: number;
	/** wall-clock ms, when known */
	wallMs: number | undefined;
}

export type Verdict = { update: true } | { update: false; why: "up-to-date" | "previously-failed" };

/** Throws UpdateRejected for a manifest that must not be installed. */
export function evaluate(manifest: UpdateManifest, device: DeviceFacts): Verdict {
	if (manifest.product !== device.product)
		throw new UpdateRejected("wrong-product", `manifest is for ${manifest.product}, this device is ${device.product}`);
	if (manifest.image.kind !== device.kind)
		throw new UpdateRejected("wrong-kind", `image is for ${manifest.image.kind}, this device runs ${device.kind}`);
	if (manifest.securityVersion < device.securityVersion)
		throw new UpdateRejected("security-downgrade", `security version ${manifest.securityVersion} < stored ${device.securityVersion}`);
	if (manifest.sequence < device.sequence)
		throw new UpdateRejected("replay", `sequence ${manifest.sequence} is older than ${device.sequence}`);
	if (manifest.expires !== undefined && device.wallMs !== undefined && manifest.expires * 1000 <= device.wallMs)
		throw new UpdateRejected("expired", `manifest expired at ${manifest.expires}`);
	if (manifest.image.size > device.slotSize)
		throw new UpdateRejected("too-large", `image of ${manifest.image.size} bytes does not fit the ${device.slotSize}-byte slot`);
	if (manifest.sequence === device.sequence || compareSemver(manifest.version, device.version) === 0)
		return { update: false, why: "up-to-date" };
	if (manifest.sequence === device.failedSequence)
		return { update: false, why: "previously-failed" };
	return { update: true };
}
