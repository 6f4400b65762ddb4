// The watchdog port over the watchdog module: a task-watchdog user of our own on the ESP32, a board reset in the sim.
import Watchdog from "watchdog";
import type { Watchdog as WatchdogPort } from "fota/ports";

export const moduleWatchdog: WatchdogPort = {
	arm: (timeoutMs) => Watchdog.arm(timeoutMs),
	feed: () => Watchdog.feed(),
	disarm: () => Watchdog.disarm(),
};
