// PEM to DER for Moddable's SecureSocket, which takes certificates and keys as DER bytes, while the device
// config keeps them as PEM text (one format on every target). XS decodes the base64 (Uint8Array.fromBase64).
// No regular expression scans the PEM: XS's matcher recurses per character, and a long base64 body overflows
// the machine's stack on a device (it did in mcsim).

/** The DER bytes of every PEM block of this label ("CERTIFICATE", "PRIVATE KEY", ...), in order. */
export function pemBlocks(pem: string, label: string): ArrayBuffer[] {
	const begin = `-----BEGIN ${label}-----`, end = `-----END ${label}-----`;
	const blocks: ArrayBuffer[] = [];
	for (let at = pem.indexOf(begin); at >= 0; at = pem.indexOf(begin, at)) {
		const stop = pem.indexOf(end, at + begin.length);
		if (stop < 0)
			throw new TypeError(`PEM ${label}: no END line`);
		let body = "";
		for (const line of pem.slice(at + begin.length, stop).split("\n"))
			body += line.trim();
		const der = Uint8Array.fromBase64(body, { lastChunkHandling: "strict" });
		blocks.push(der.buffer as ArrayBuffer); // a fresh array: its buffer holds exactly the DER
		at = stop + end.length;
	}
	if (!blocks.length)
		throw new TypeError(`no PEM ${label} block`);
	return blocks;
}
