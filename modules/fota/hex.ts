// Hex text for bytes, and back. Lower-case; fromHex rejects anything that is not an even run of hex digits.
export function toHex(bytes: Uint8Array): string {
	let out = "";
	for (let i = 0; i < bytes.length; i++)
		out += (bytes[i]! < 16 ? "0" : "") + bytes[i]!.toString(16);
	return out;
}

export function fromHex(text: string): Uint8Array | undefined {
	if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text))
		return undefined;
	const bytes = new Uint8Array(text.length / 2);
	for (let i = 0; i < bytes.length; i++)
		bytes[i] = parseInt(text.substr(i * 2, 2), 16);
	return bytes;
}
