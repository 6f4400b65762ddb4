// fota-target in Moddable's desktop simulator (mcsim, platform lin): Moddable's ports, with the events in the
// board's JSON Lines log (the launcher, `xs-fota mcsim`, names it) as well as on the console.
import config from "mc/config";
import { event } from "sim/events";
import { moddablePorts, traceEvents } from "fota-moddable/ports";
import type { DeviceConfig } from "fota/config";
import type { EventSink, Ports } from "fota/ports";

/** The image kind this firmware runs: the build's (the root manifest's lin "config"). */
export const kind: string = (config as { kind?: string }).kind ?? "lin";

const events: EventSink = (type, fields) => {
	traceEvents(type, fields);
	event(type, fields);
};

export function targetPorts(device: DeviceConfig): Ports {
	return moddablePorts(device, events);
}
