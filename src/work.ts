// The app's normal work. A build can schedule one critical task (mc/config criticalAfterMs, criticalForMs)
// during which no update may reboot the device: it holds the client for that long.
import config from "mc/config";
import Timer from "timer";
import type { FotaClient } from "fota/client";

export function startWork(client: FotaClient): void {
	const after: number = config.criticalAfterMs ?? 0;
	const lasts: number = config.criticalForMs ?? 0;
	if (!after || !lasts)
		return;
	Timer.set(() => {
		const release = client.hold("critical task");
		trace("critical task: started; updates are held\n");
		Timer.set(() => {
			trace("critical task: done\n");
			release();
		}, lasts);
	}, after);
}
