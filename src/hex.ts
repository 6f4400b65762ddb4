/** Lower-case hex of a buffer's bytes. */
export function hex(buffer: ArrayBuffer | Uint8Array): string {
	const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
	let out = "";
	for (const byte of bytes)
		out += (byte < 16 ? "0" : "") + byte.toString(16);
	return out;
}
