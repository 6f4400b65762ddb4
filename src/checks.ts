// The app's own self-test checks for the trial of a new image or a new config. A build can carry a deliberate fault
// (mc/config "fault"): "fail" fails a check, "hang" blocks the event loop, "crash" throws from a timer. The app's
// settings (the device config's "app", which config documents set) can fail a check too: the sensor's reading must
// be within app.sensorMax, when there is one.
import Timer from "timer";
import type { SelfTestCheck } from "fota/selftest";

/** The example sensor's reading. */
const READING = 21.5;

export function appChecks(fault?: string, settings: Record<string, unknown> = {}): SelfTestCheck[] {
	return [
		{
			name: "sensor",
			run: () => new Promise<void>((resolve, reject) => {
				Timer.set(() => {
					if (fault === "fail")
						reject(new Error("sensor reads out of range (deliberate fault of this build)"));
					else if (typeof settings.sensorMax === "number" && READING > settings.sensorMax)
						reject(new Error(`sensor reads ${READING}, above app.sensorMax ${settings.sensorMax}`));
					else
						resolve();
				}, 50);
			}),
		},
		{
			name: "main-loop",
			run: () => {
				if (fault === "hang")
					for (;;) ; // the event loop never turns again: only the watchdog ends this
				if (fault === "crash") // an exception nobody catches, while the check is still running
					return new Promise<void>(() => Timer.set(() => { throw new Error("crash in the new image (deliberate fault of this build)"); }, 10));
			},
		},
	];
}
