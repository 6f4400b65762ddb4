// Device certificates for a fleet of virtual devices, made in-process: openssl (tools/server/certificates.ts) takes
// about 20 ms a device, far too slow for 10,000. Every virtual device shares one RSA 2048 key (RSA, as a real
// device's must be: see tools/server/certificates.ts), and each gets its own X.509 v3 certificate, written here in
// DER (./der.ts, from RFC 5280): a random positive serial, the device CA's subject as issuer (its bytes, taken
// from the CA's certificate), CN=<device id> as subject, basicConstraints CA:false and keyUsage digitalSignature
// (both critical) and extendedKeyUsage clientAuth, signed by the device CA's key with SHA-256 (ECDSA or RSA,
// as the CA's key is). With a cache folder the key and certificates are kept, so a rerun makes none.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEVICE_ID, pemOrFile } from "../server/certificates.js";
import { bitString, boolean, children, explicit, nullValue, octetString, oid, readElement, sequence, set, smallInteger, time, unsignedInteger, utf8String } from "./der.js";

const OID = {
	commonName: "2.5.4.3",
	basicConstraints: "2.5.29.19",
	keyUsage: "2.5.29.15",
	extendedKeyUsage: "2.5.29.37",
	clientAuth: "1.3.6.1.5.5.7.3.2",
	ecdsaWithSha256: "1.2.840.10045.4.3.2",
	sha256WithRsa: "1.2.840.113549.1.1.11",
};

export interface FleetCertificateOptions {
	/** the device CA's certificate and key: PEM, or the paths of files holding them (makeDeviceCa's) */
	caCert: string;
	caKey: string;
	/** a folder that keeps the shared key and the certificates between runs */
	cacheDir?: string;
	/** validity, days (default 30) */
	days?: number;
}

function pem(label: string, der: Uint8Array): string {
	const base64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
	return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}

/** The subject of a certificate, as the DER bytes it holds (the issuer of the certificates it signs). */
export function subjectDer(certificate: X509Certificate): Buffer {
	const [tbs] = children(readElement(certificate.raw).value);
	const fields = children(tbs!.value);
	const first = fields[0]!.tag === 0xa0 ? 1 : 0; // [0] version, when present
	// serialNumber, signature, issuer, validity, subject
	return fields[first + 4]!.der;
}

/** The AlgorithmIdentifier of a SHA-256 signature by this key. */
function signatureAlgorithm(key: KeyObject): Buffer {
	if (key.asymmetricKeyType === "ec")
		return sequence(oid(OID.ecdsaWithSha256)); // parameters absent (RFC 5758)
	if (key.asymmetricKeyType === "rsa")
		return sequence(oid(OID.sha256WithRsa), nullValue());
	throw new Error(`the device CA's key is ${key.asymmetricKeyType}; certificates can be signed with an EC or RSA key`);
}

function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
	return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

interface CacheFile {
	ca: string;
	key: string;
	notAfter: number;
	certificates: Record<string, string>;
}

export class FleetCertificates {
	/** PEM "PRIVATE KEY" (PKCS#8): the key every virtual device presents */
	readonly key: string;
	readonly #caKey: KeyObject;
	readonly #issuer: Buffer;
	readonly #algorithm: Buffer;
	readonly #spki: Buffer;
	readonly #notBefore: Date;
	readonly #notAfter: Date;
	readonly #cacheFile: string | undefined;
	readonly #fingerprint: string;
	/** device id → certificate, DER in base64 (as cached) */
	readonly #made: Record<string, string>;
	#unsaved = 0;

	constructor(options: FleetCertificateOptions) {
		const days = options.days ?? 30;
		let ca: X509Certificate;
		try {
			ca = new X509Certificate(pemOrFile(options.caCert, "device CA certificate"));
		} catch (error) {
			throw new Error(`the device CA certificate: ${(error as Error).message}`);
		}
		try {
			this.#caKey = createPrivateKey(pemOrFile(options.caKey, "device CA key"));
		} catch (error) {
			throw new Error(`the device CA key: ${(error as Error).message}`);
		}
		const spki = (key: KeyObject) => key.export({ type: "spki", format: "der" });
		if (!spki(createPublicKey(this.#caKey)).equals(spki(ca.publicKey)))
			throw new Error("the device CA key is not the key of the device CA certificate");
		this.#issuer = subjectDer(ca);
		this.#algorithm = signatureAlgorithm(this.#caKey);
		this.#fingerprint = ca.fingerprint256.replace(/:/g, "").toLowerCase();
		this.#cacheFile = options.cacheDir ? join(options.cacheDir, `fleet-${this.#fingerprint.slice(0, 16)}.json`) : undefined;
		const now = Date.now();
		let cached: CacheFile | undefined;
		if (this.#cacheFile && existsSync(this.#cacheFile)) {
			try {
				const read = JSON.parse(readFileSync(this.#cacheFile, "utf8")) as CacheFile;
				if (read.ca === this.#fingerprint && typeof read.key === "string" && read.notAfter > now + 86_400_000)
					cached = read;
			} catch {
				cached = undefined; // unreadable: made again
			}
		}
		this.key = cached?.key ?? generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
		this.#spki = spki(createPublicKey(this.key));
		this.#made = cached?.certificates ?? {};
		this.#notBefore = new Date(now - 3_600_000); // an hour back: clocks differ
		this.#notAfter = cached ? new Date(cached.notAfter) : new Date(now + days * 86_400_000);
		if (!cached)
			this.#unsaved = 1;
	}

	/** The PEM certificate of a device: CN = its id, for the shared key, signed by the device CA. */
	certificate(deviceId: string): string {
		let der = this.#made[deviceId];
		if (der === undefined) {
			der = this.#make(deviceId).toString("base64");
			this.#made[deviceId] = der;
			this.#unsaved++;
		}
		return pem("CERTIFICATE", Buffer.from(der, "base64"));
	}

	#make(deviceId: string): Buffer {
		if (!DEVICE_ID.test(deviceId))
			throw new Error(`device id ${JSON.stringify(deviceId)} must be 1 to 64 characters of A-Z a-z 0-9 . _ -`);
		const serial = randomBytes(16);
		serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, and sixteen bytes long
		const tbs = sequence(
			explicit(0, smallInteger(2)), // v3
			unsignedInteger(serial),
			this.#algorithm,
			this.#issuer,
			sequence(time(this.#notBefore), time(this.#notAfter)),
			sequence(set(sequence(oid(OID.commonName), utf8String(deviceId)))),
			this.#spki,
			explicit(3, sequence(
				extension(OID.basicConstraints, true, sequence()), // cA defaults to false
				extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)), // digitalSignature
				extension(OID.extendedKeyUsage, false, sequence(oid(OID.clientAuth))),
			)),
		);
		return sequence(tbs, this.#algorithm, bitString(sign("sha256", tbs, this.#caKey)));
	}

	/** Writes the cache (when there is a folder and something new to keep). */
	save(): void {
		if (!this.#cacheFile || !this.#unsaved)
			return;
		mkdirSync(join(this.#cacheFile, ".."), { recursive: true });
		const file: CacheFile = { ca: this.#fingerprint, key: this.key, notAfter: this.#notAfter.getTime(), certificates: this.#made };
		const temporary = `${this.#cacheFile}.${process.pid}`;
		writeFileSync(temporary, JSON.stringify(file), { mode: 0o600 });
		renameSync(temporary, this.#cacheFile);
		this.#unsaved = 0;
	}

	/** How many certificates are made or cached. */
	get count(): number {
		return Object.keys(this.#made).length;
	}
}
