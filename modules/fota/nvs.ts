// What Moddable's Preference keeps on the ESP32 (NVS), in one place: the sim's Preference and the Node tests'
// store refuse exactly what the device refuses, so no test passes with a value the device would reject.
// modules/files/preference/esp32/modPreference.c stores a boolean as u8, a number only when it is an int32
// ("float unsupported" otherwise), a string with nvs_set_str and an ArrayBuffer with nvs_set_blob; ESP-IDF
// limits names to 15 characters and a string to 4000 bytes with its NUL.
export const NVS_MAX_NAME = 15;
export const NVS_MAX_STRING_BYTES = 3999;

function utf8Length(text: string): number {
	let bytes = 0;
	for (let i = 0; i < text.length; i++) {
		const code = text.charCodeAt(i);
		if (code < 0x80) bytes += 1;
		else if (code < 0x800) bytes += 2;
		else if (code >= 0xD800 && code <= 0xDBFF && i + 1 < text.length) { bytes += 4; i++; }
		else bytes += 3;
	}
	return bytes;
}

/** Names checked already: a program uses a handful, and in XS reading a string's length makes a String object, so a
 * check at every write was garbage at every write (a download's checkpoint, every chunk: README, "Memory"). */
const CHECKED_NAMES = new Set<string>();
const MAX_CHECKED_NAMES = 64;

/** Throws as the ESP32's Preference.set would for this name. */
export function checkNvsName(what: string, name: string): void {
	if (CHECKED_NAMES.has(name))
		return;
	if (typeof name !== "string" || name.length === 0 || name.length > NVS_MAX_NAME)
		throw new RangeError(`preference: ${what} "${name}" must be 1 to ${NVS_MAX_NAME} characters`);
	if (CHECKED_NAMES.size < MAX_CHECKED_NAMES)
		CHECKED_NAMES.add(name);
}

/** Throws as the ESP32's Preference.set would for this value. */
export function checkNvsValue(key: string, value: unknown): void {
	switch (typeof value) {
	case "boolean":
		return;
	case "number":
		if (!((value | 0) === value))
			throw new RangeError(`preference: ${key}: ${value} is not an int32 (NVS on the ESP32 refuses it: float unsupported)`);
		return;
	case "string":
		// at most 3 bytes a UTF-16 unit: a short string needs no count (in XS each charCodeAt makes garbage, and the
		// sim's store checks every record the client writes, a download's progress at every checkpoint)
		if (value.length * 3 > NVS_MAX_STRING_BYTES && utf8Length(value) > NVS_MAX_STRING_BYTES)
			throw new RangeError(`preference: ${key}: a string of more than ${NVS_MAX_STRING_BYTES} bytes does not fit NVS`);
		return;
	default:
		if (value instanceof ArrayBuffer)
			return;
		throw new TypeError(`preference: ${key}: value must be a boolean, an int32, a string or an ArrayBuffer`);
	}
}
