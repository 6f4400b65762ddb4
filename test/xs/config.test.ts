// Issue 9, defect 10, in XS with the native SHA-256: the device config's key ids are derived from their keys and unique.
// Issue 10, in XS: the device's TLS identity (clientKey, clientCertificates) is checked on the device as in Node,
// without a regular expression over the PEM (a long base64 body must not overflow XS's stack).
import { test } from "./lib/harness.js";
import SHA256 from "crypto/sha256";
import { keyIdOf, parseDeviceConfig } from "fota/config";
import { fromHex } from "fota/hex";

const sha256 = (data: Uint8Array) => new Uint8Array(SHA256.hash(data));
const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const key = (hex: string) => ({ keyId: keyIdOf(fromHex(hex)!, sha256), publicKey: hex });
const base = { deviceId: "d", product: "p", server: "https://s.example", ca: CA };

test("a key id is the first 8 bytes of the SHA-256 of the key (the same id the CLI writes)", (t) => {
	// SHA-256 of 32 bytes of 0xab, computed independently in Node: 9a2db2e23f1504cd...
	t.is(keyIdOf(fromHex("ab".repeat(32))!, sha256), "9a2db2e23f1504cd");
});

test("a mislabelled or repeated key is refused", (t) => {
	const a = key("ab".repeat(32)), b = key("cd".repeat(32));
	t.is(parseDeviceConfig({ ...base, keys: [a, b] }, sha256).keys.length, 2);
	t.throws(() => parseDeviceConfig({ ...base, keys: [{ keyId: b.keyId, publicKey: a.publicKey }] }, sha256), { message: /is not the id of its key/ });
	t.throws(() => parseDeviceConfig({ ...base, keys: [a, a] }, sha256), { message: /keys\[1\] repeats key/ });
});

/** A PEM block of this label around a base64 body, in 64-character lines, as openssl writes it. */
function pem(label: string, body: string): string {
	let lines = "";
	for (let at = 0; at < body.length; at += 64)
		lines += body.slice(at, at + 64) + "\n";
	return `-----BEGIN ${label}-----\n${lines}-----END ${label}-----\n`;
}
// The openings of real PKCS#8 keys (RSA 2048, RSA 1024, EC P-256), padded to a key's length: the config reads
// only the algorithm, which comes first.
const RSA_2048 = pem("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj" + "A".repeat(1584));
const RSA_1024 = pem("PRIVATE KEY", "MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJe" + "A".repeat(800));
const EC_P256 = pem("PRIVATE KEY", "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" + "A".repeat(136));
const CERT = pem("CERTIFICATE", "MIIC" + "B".repeat(1200));
const valid = { ...base, keys: [key("ab".repeat(32))] };

test("a client key and certificates are kept as given; neither is fine; one without the other is refused", (t) => {
	const parsed = parseDeviceConfig({ ...valid, clientKey: RSA_2048, clientCertificates: CERT + CERT }, sha256);
	t.is(parsed.clientKey, RSA_2048);
	t.is(parsed.clientCertificates, CERT + CERT);
	t.is(parseDeviceConfig({ ...valid, clientKey: RSA_1024, clientCertificates: CERT }, sha256).clientKey, RSA_1024);
	t.is(parseDeviceConfig(valid, sha256).clientKey, undefined);
	t.throws(() => parseDeviceConfig({ ...valid, clientKey: RSA_2048 }, sha256), { message: /clientKey needs clientCertificates/ });
	t.throws(() => parseDeviceConfig({ ...valid, clientCertificates: CERT }, sha256), { message: /clientCertificates needs clientKey/ });
});

test("a client key Moddable's TLS cannot sign with, or PEM of the wrong kind, size or shape, is refused", (t) => {
	const bad = (fields: object) => () => parseDeviceConfig({ ...valid, clientKey: RSA_2048, clientCertificates: CERT, ...fields }, sha256);
	t.throws(bad({ clientKey: EC_P256 }), { message: /clientKey must be an RSA key/ });
	t.throws(bad({ clientKey: RSA_2048.split("PRIVATE KEY").join("RSA PRIVATE KEY") }), { message: /not "RSA PRIVATE KEY" \(convert it/ });
	t.throws(bad({ clientKey: RSA_2048 + RSA_2048 }), { message: /exactly one PEM "PRIVATE KEY" block, not 2/ });
	t.throws(bad({ clientKey: RSA_2048.replace("MIIE", "MI!E") }), { message: /not base64/ });
	t.throws(bad({ clientKey: RSA_2048.slice(0, -30) }), { message: /no END line/ });
	t.throws(bad({ clientKey: pem("PRIVATE KEY", "A".repeat(8200)) }), { message: /at most 8192 characters/ });
	t.throws(bad({ clientCertificates: RSA_2048 }), { message: /must be PEM "CERTIFICATE", not "PRIVATE KEY"/ });
	t.throws(bad({ clientCertificates: CERT.repeat(5) }), { message: /1 to 4 PEM "CERTIFICATE" blocks, not 5/ });
	t.throws(bad({ clientCertificates: "x" + CERT }), { message: /must hold only PEM "CERTIFICATE" blocks/ });
	t.throws(bad({ clientCertificates: pem("CERTIFICATE", "A".repeat(16400)) }), { message: /at most 16384 characters in all/ });
});
