// Moddable's `system` convention: System.restart() reboots the device (esp_restart on the ESP32; on the sim
// board, a reset through the bootloader).
export default class System {
	static restart(): never {
		native("xs_system_restart")();
		throw new Error("System.restart: did not restart");
	}
}
