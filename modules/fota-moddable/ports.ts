// The update client's ports on Moddable's own runtime (the ESP32 and the desktop simulator): Moddable's HTTP client
// over SecureSocket, the partition/system/watchdog modules, Preference, Timer. Each target's fota-target module
// adds its event sink and its kind (hosts/esp32/fota/ports.ts, hosts/lin/fota/ports.ts). The transport presents
// the device's own key and certificate (mutual TLS) when the device config has them.
import { partitionFlash } from "./flash.js";
import { nativeVerifier } from "./verifier.js";
import { moduleWatchdog } from "./watchdog.js";
import { PreferenceStore } from "./store.js";
import { TimerClock } from "./clock.js";
import { ModdableTransport } from "./transport.js";
import type { DeviceConfig } from "fota/config";
import type { EventSink, Ports } from "fota/ports";

export function moddablePorts(config: DeviceConfig, events: EventSink): Ports {
	return {
		transport: new ModdableTransport({ ca: config.ca, clientKey: config.clientKey, clientCertificates: config.clientCertificates }),
		flash: partitionFlash,
		verifier: nativeVerifier,
		watchdog: moduleWatchdog,
		store: new PreferenceStore(),
		clock: new TimerClock(),
		events,
	};
}

/** Events as console lines (`trace`), one JSON object each, for the serial console or xsbug. */
export const traceEvents: EventSink = (type, fields) => {
	trace(`fota ${type} ${JSON.stringify(fields)}\n`);
};
