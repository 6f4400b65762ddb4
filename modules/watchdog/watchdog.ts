// A watchdog of the firmware's own: armed for a supervised task (the self-test), fed while it makes progress.
// If it is not fed within timeoutMs the device resets (ESP32: the task watchdog with a user of its own;
// sim board: a reset through the bootloader, logged as `watchdog`).
export default class Watchdog {
	/** Starts (or restarts) the watchdog with this timeout. */
	static arm(timeoutMs: number): void {
		if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
			throw new RangeError("Watchdog.arm: timeoutMs must be a finite number > 0");
		native("xs_watchdog_arm")(timeoutMs);
	}
	/** Restarts the countdown. Feeding a disarmed watchdog does nothing. */
	static feed(): void {
		native("xs_watchdog_feed")();
	}
	static disarm(): void {
		native("xs_watchdog_disarm")();
	}
}
