// Moddable's `preference` module for the sim host. On the simulated board the values live in the flash file's
// nvs partition (nvs-log.ts), so they survive reboots and a power cut can tear a write; without a board they
// live in memory for the life of the process.
import { openNvs, type Value } from "sim/nvs-log";

const store = openNvs();
const domains = store ? store.domains : new Map<string, Map<string, Value>>();
const MAX_NAME = 15; // NVS namespace and key names are at most 15 characters on the ESP32

function checkName(what: string, name: string): void {
	if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME)
		throw new RangeError(`preference: ${what} must be 1 to ${MAX_NAME} characters`);
}

export default class Preference {
	static set(domain: string, key: string, value: Value): void {
		checkName("domain", domain);
		checkName("key", key);
		const kind = typeof value;
		if (kind !== "string" && kind !== "boolean" && kind !== "number" && !(value instanceof ArrayBuffer))
			throw new TypeError("preference: value must be a string, boolean, number or ArrayBuffer");
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
