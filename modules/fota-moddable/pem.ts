// PEM to DER for Moddable's SecureSocket, which takes certificates and keys as DER bytes, while the device
// config keeps them as PEM text (one format on every target). The base64 decoding is Moddable's `base64` module.
import Base64 from "base64";

/** The DER bytes of every PEM block of this label ("CERTIFICATE", "PRIVATE KEY", ...), in order. */
export function pemBlocks(pem: string, label: string): ArrayBuffer[] {
	const blocks: ArrayBuffer[] = [];
	const pattern = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*)-----END ${label}-----`, "g");
	for (const match of pem.matchAll(pattern))
		blocks.push(Base64.decode(match[1].replace(/\s/g, "")));
	if (!blocks.length)
		throw new TypeError(`no PEM ${label} block`);
	return blocks;
}
