// A development CA and a server certificate signed by it, made with the openssl command.
// The device pins this CA from its config; nothing else is trusted.
// Also a second, separate CA for devices (device-ca.pem) and the devices' own keys and certificates signed by it,
// which a device presents in the TLS handshake (mutual TLS) so that a server can tell which device is calling.
//
// The device's key is RSA 2048, in PKCS#8 ("PRIVATE KEY"), because that is the only client key that Moddable's
// TLS can use (Moddable SDK 8.2.3): modules/crypt/ssl/ssl_cert.js hands the clientKey to PKCS8.parse, which in
// modules/crypt/etc/pkcs8.js is "RSA only" (it reads modulus, exponents, primes and coefficient straight out of
// the key); modules/crypt/ssl/ssl_handshake.js signs CertificateVerify with PKCS1_5 (RSA PKCS#1 v1.5, SHA-256 in
// TLS 1.2) and throws "certificateVerify: unimplemented" for anything else; and its certificateRequest accepts
// only the rsa_sign and dss_sign certificate types, not ecdsa_sign. An ECDSA device key would fail the handshake.
// The CAs themselves may stay ECDSA P-256: the device sends its certificate as bytes and never checks its own.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface DevCertificates {
	ca: string;
	caKey: string;
	cert: string;
	key: string;
}

function openssl(args: string[], cwd: string): void {
	try {
		execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
	} catch (error: any) {
		throw new Error(`openssl ${args[0]} failed: ${String(error.stderr ?? error.message).trim()}`);
	}
}

/** Writes ca.pem, ca.key, server.pem and server.key into dir; refuses to overwrite. hosts go into subjectAltName. */
export function makeDevCertificates(dir: string, hosts: string[] = ["localhost", "127.0.0.1"], days = 825): DevCertificates {
	const paths = { ca: join(dir, "ca.pem"), caKey: join(dir, "ca.key"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
	for (const path of Object.values(paths))
		if (existsSync(path))
			throw new Error(`${path} exists; refusing to overwrite it`);
	mkdirSync(dir, { recursive: true });
	const work = mkdtempSync(join(tmpdir(), "xs-fota-ca-"));
	try {
		const san = hosts.map((host) => (/^[\d.]+$/.test(host) || host.includes(":") ? `IP:${host}` : `DNS:${host}`)).join(",");
		writeFileSync(join(work, "server.ext"), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
		openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"], work);
		openssl(["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", String(days), "-subj", "/CN=xs-fota development CA",
			"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem"], work);
		openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key"], work);
		openssl(["req", "-new", "-key", "server.key", "-subj", `/CN=${hosts[0]}`, "-out", "server.csr"], work);
		openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", String(days),
			"-sha256", "-extfile", "server.ext", "-out", "server.pem"], work);
		// server.pem is the full chain, leaf then CA: Moddable's TLS checks the server name (subjectAltName) only on a
		// certificate that the chain's next one signs, so a lone leaf never matches (modules/crypt/ssl/ssl_cert.js).
		writeFileSync(join(work, "server.pem"), readFileSync(join(work, "server.pem"), "utf8") + readFileSync(join(work, "ca.pem"), "utf8"));
		for (const name of ["ca.pem", "ca.key", "server.pem", "server.key"] as const) {
			const target = join(dir, name);
			execFileSync("cp", [join(work, name), target]);
			if (name.endsWith(".key"))
				chmodSync(target, 0o600);
		}
	} finally {
		rmSync(work, { recursive: true, force: true });
	}
	return paths;
}

/** A device id as a certificate's CN: 1 to 64 of [A-Za-z0-9._-], which never needs escaping in a subject. */
export const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Writes device-ca.pem and device-ca.key (0600) into dir; refuses to overwrite. The CA that signs devices'
 * certificates: separate from the server's CA, so that neither can vouch for the other's side. Returns the paths. */
export function makeDeviceCa(dir: string, days = 3650): { cert: string; key: string } {
	const paths = { cert: join(dir, "device-ca.pem"), key: join(dir, "device-ca.key") };
	for (const path of Object.values(paths))
		if (existsSync(path))
			throw new Error(`${path} exists; refusing to overwrite it`);
	mkdirSync(dir, { recursive: true });
	const work = mkdtempSync(join(tmpdir(), "xs-fota-device-ca-"));
	try {
		openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "device-ca.key"], work);
		openssl(["req", "-x509", "-new", "-key", "device-ca.key", "-sha256", "-days", String(days), "-subj", "/CN=xs-fota device CA",
			"-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "device-ca.pem"], work);
		execFileSync("cp", [join(work, "device-ca.pem"), paths.cert]);
		execFileSync("cp", [join(work, "device-ca.key"), paths.key]);
		chmodSync(paths.key, 0o600);
	} finally {
		rmSync(work, { recursive: true, force: true });
	}
	return paths;
}

/** A PEM given as itself, or the path of a file that holds it. */
export function pemOrFile(value: string, what: string): string {
	if (value.includes("-----BEGIN "))
		return value;
	try {
		return readFileSync(value, "utf8");
	} catch (error) {
		throw new Error(`cannot read the ${what} ${value}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
	}
}

/**
 * A new device identity: an RSA 2048 private key (PEM "PRIVATE KEY", PKCS#8: see the top of this file for why RSA)
 * and a certificate for it whose subject is only CN=deviceId, signed by the device CA, for TLS client
 * authentication only (extendedKeyUsage clientAuth, not a CA). caCert and caKey are the device CA's PEM, or the
 * paths of its files (makeDeviceCa's). Returns PEM strings; nothing is written but a temporary folder, removed.
 */
export function makeDeviceCertificate(options: { caCert: string; caKey: string; deviceId: string; days?: number }): { key: string; cert: string } {
	const { deviceId, days = 3650 } = options;
	if (typeof deviceId !== "string" || !DEVICE_ID.test(deviceId))
		throw new Error(`device id ${JSON.stringify(deviceId)} must be 1 to 64 characters of A-Z a-z 0-9 . _ -`);
	if (!Number.isInteger(days) || days < 1 || days > 36500)
		throw new Error(`days must be an integer from 1 to 36500`);
	const caCert = pemOrFile(options.caCert, "device CA certificate");
	const caKey = pemOrFile(options.caKey, "device CA key");
	if (!caCert.includes("-----BEGIN CERTIFICATE-----"))
		throw new Error("the device CA certificate is not a PEM certificate");
	if (!/-----BEGIN (EC |RSA )?PRIVATE KEY-----/.test(caKey))
		throw new Error("the device CA key is not a PEM private key");
	const work = mkdtempSync(join(tmpdir(), "xs-fota-device-"));
	try {
		writeFileSync(join(work, "ca.pem"), caCert);
		writeFileSync(join(work, "ca.key"), caKey, { mode: 0o600 });
		writeFileSync(join(work, "device.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
			+ "extendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
		openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "device.key"], work);
		openssl(["req", "-new", "-key", "device.key", "-subj", `/CN=${deviceId}`, "-out", "device.csr"], work);
		// a random positive 127-bit serial: two certificates from this CA never share one
		const serial = randomBytes(16);
		serial[0] &= 0x7f;
		openssl(["x509", "-req", "-in", "device.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", `0x${serial.toString("hex")}`,
			"-days", String(days), "-sha256", "-extfile", "device.ext", "-out", "device.pem"], work);
		const key = readFileSync(join(work, "device.key"), "utf8");
		if (!key.startsWith("-----BEGIN PRIVATE KEY-----"))
			throw new Error("openssl genpkey did not write a PKCS#8 \"PRIVATE KEY\"");
		return { key, cert: readFileSync(join(work, "device.pem"), "utf8") };
	} finally {
		rmSync(work, { recursive: true, force: true });
	}
}
