// Moddable's `system` convention: System.restart() reboots the device (esp_restart on the ESP32; on the sim
// board, a reset through the bootloader). System.resetReason() says why this start happened (esp_reset_reason,
// grouped), so that the update client can tell a power cut from a crash.
export type ResetCause = "power-on" | "brownout" | "software" | "watchdog" | "crash" | "external" | "unknown";

export default class System {
	static resetReason(): ResetCause {
		return native("xs_system_reset_reason")();
	}
	static restart(): never {
		native("xs_system_restart")();
		throw new Error("System.restart: did not restart");
	}
}
