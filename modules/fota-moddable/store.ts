// The store port over Moddable's Preference: one domain for the update client's records.
import Preference from "preference";
import type { Store, StoreValue } from "fota/ports";

export class PreferenceStore implements Store {
	readonly #domain: string;
	constructor(domain = "fota") {
		this.#domain = domain;
	}
	get(key: string): StoreValue | undefined {
		const value = Preference.get(this.#domain, key);
		return value instanceof ArrayBuffer ? undefined : value;
	}
	set(key: string, value: StoreValue): void {
		Preference.set(this.#domain, key, value);
	}
	delete(key: string): void {
		Preference.delete(this.#domain, key);
	}
}
