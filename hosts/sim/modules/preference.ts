// Moddable's `preference` module for the sim host. On the simulated board the values live in the flash file's
// nvs partition (nvs-log.ts), so they survive reboots and a power cut can tear a write; without a board they
// live in memory for the life of the process. It accepts exactly what the ESP32's Preference accepts.
import { openNvs, type Value } from "sim/nvs-log";
import { checkNvsName, checkNvsValue } from "fota/nvs";

const store = openNvs();
const domains = store ? store.domains : new Map<string, Map<string, Value>>();

export default class Preference {
	static set(domain: string, key: string, value: Value): void {
		checkNvsName("domain", domain);
		checkNvsName("key", key);
		checkNvsValue(key, value); // what the ESP32's Preference refuses, this one refuses too
		const copy = value instanceof ArrayBuffer ? value.slice(0) : value;
		if (store) {
			store.write(domain, key, copy);
			return;
		}
		let entries = domains.get(domain);
		if (!entries)
			domains.set(domain, entries = new Map());
		entries.set(key, copy);
	}
	static get(domain: string, key: string): Value | undefined {
		const value = domains.get(domain)?.get(key);
		return value instanceof ArrayBuffer ? value.slice(0) : value;
	}
	static delete(domain: string, key: string): void {
		if (store) {
			if (domains.get(domain)?.has(key))
				store.write(domain, key, undefined);
			return;
		}
		domains.get(domain)?.delete(key);
	}
	static keys(domain: string): string[] {
		return [...(domains.get(domain)?.keys() ?? [])];
	}
}
