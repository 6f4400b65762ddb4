// fota-target on the ESP32: Moddable's ports, with the events on the serial console.
import config from "mc/config";
import { moddablePorts, traceEvents } from "fota-moddable/ports";
import type { DeviceConfig } from "fota/config";
import type { Ports } from "fota/ports";

/** The image kind this firmware runs: the build's (the root manifest's esp32 "config"). */
export const kind: string = (config as { kind?: string }).kind ?? "esp32";

export function targetPorts(device: DeviceConfig): Ports {
	return moddablePorts(device, traceEvents);
}
