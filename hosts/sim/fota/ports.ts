// The update client's ports on the sim host: libcurl for HTTPS (with the device's TLS identity from its config,
// when it has one), the board's flash, watchdog and event log.
import { partitionFlash } from "fota-moddable/flash";
import { nativeVerifier } from "fota-moddable/verifier";
import { moduleWatchdog } from "fota-moddable/watchdog";
import { PreferenceStore } from "fota-moddable/store";
import { TimerClock } from "fota-moddable/clock";
import { SimTransport } from "./transport.js";
import { boardEvents } from "./events.js";
import type { DeviceConfig } from "fota/config";
import type { Ports } from "fota/ports";

import config from "mc/config";

/** The image kind this firmware runs: the build's (the root manifest's xsfota-sim "config"). */
export const kind: string = (config as { kind?: string }).kind ?? "sim";

export function targetPorts(config: DeviceConfig): Ports {
	return {
		transport: new SimTransport({ ca: config.ca, clientKey: config.clientKey, clientCertificates: config.clientCertificates }),
		flash: partitionFlash,
		verifier: nativeVerifier,
		watchdog: moduleWatchdog,
		store: new PreferenceStore(),
		clock: new TimerClock(),
		events: boardEvents,
	};
}
