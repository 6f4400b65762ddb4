// The app's normal work: now and then a critical task that must not be interrupted by an update reboot.
import config from "mc/config";
import Timer from "timer";
import type { FotaClient } from "fota/client";

export function startWork(client: FotaClient): void {
	const every: number = config.criticalEveryMs ?? 0;
	const lasts: number = config.criticalForMs ?? 0;
	if (!every || !lasts)
		return;
	Timer.repeat(() => {
		const release = client.hold("critical task");
		trace("critical task: holding updates\n");
		Timer.set(() => {
			trace("critical task: done\n");
			release();
		}, lasts);
	}, every);
}
