// The device's config (identity, server URL, trusted keys, CA), kept outside the firmware image in the
// `fotacfg` partition so that every firmware version reads the same. Provisioning writes it; firmware only reads.
/** The config object, or undefined when none is provisioned. Throws when it is present but corrupt. */
export function read(): object | undefined {
	const text: string | undefined = native("xs_devconfig_read")();
	if (text === undefined)
		return undefined;
	const value = JSON.parse(text);
	if (typeof value !== "object" || value === null || Array.isArray(value))
		throw new TypeError("devconfig: the config is not a JSON object");
	return value;
}

export default { read };
