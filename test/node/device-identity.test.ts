// Devices that prove who they are (issue 10, mutual TLS): the device CA and device certificates that
// tools/server/certificates.ts makes, the device config's clientKey/clientCertificates as modules/fota/config.ts
// checks them, and `xs-fota init` / `xs-fota provision --device-ca` writing them. The handshake itself is tested in
// sim-transport.test.ts.
import test from "ava";
import { spawnSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./lib/paths.js";
import { makeDevCertificates, makeDeviceCa, makeDeviceCertificate } from "../../tools/server/certificates.js";
import { parseDeviceConfig as parse, MAX_CLIENT_KEY_CHARS } from "../../modules/fota/config.js";
import { nodeSha256, keyIdOf } from "../../tools/cli/keys.js";
import { readDeviceConfig } from "../../tools/sim/flash.js";
import { buildLinImage } from "../../tools/sim/image.js";

const CLI = join(ROOT, "bin/xs-fota.js");
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
const parseDeviceConfig = (raw: unknown) => parse(raw, nodeSha256);
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

let shared: { dir: string; cert: string; key: string; caPem: string; caKeyPem: string } | undefined;
function deviceCa() {
	if (!shared) {
		const dir = mkdtempSync(join(tmpdir(), "xs-fota-device-ca-"));
		const paths = makeDeviceCa(dir);
		shared = { dir, ...paths, caPem: readFileSync(paths.cert, "utf8"), caKeyPem: readFileSync(paths.key, "utf8") };
	}
	return shared;
}

const base = () => ({ deviceId: "dev-1", product: "p", server: "https://s.example", ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
	keys: [{ keyId: keyIdOf(Buffer.from("ab".repeat(32), "hex")), publicKey: "ab".repeat(32) }] });

test("makeDeviceCa writes a CA of its own, its key 0600, and never overwrites", (t) => {
	const ca = deviceCa();
	t.is(ca.cert, join(ca.dir, "device-ca.pem"));
	t.is(ca.key, join(ca.dir, "device-ca.key"));
	t.is(statSync(ca.key).mode & 0o777, 0o600);
	const x509 = new X509Certificate(ca.caPem);
	t.true(x509.ca);
	t.is(x509.subject, "CN=xs-fota device CA");
	t.true(x509.verify(x509.publicKey), "not self-signed");
	// separate from the server's CA: another key, and neither signs the other's certificates
	const server = makeDevCertificates(mkdtempSync(join(tmpdir(), "xs-fota-server-ca-")));
	const serverCa = new X509Certificate(readFileSync(server.ca));
	t.notDeepEqual(serverCa.publicKey.export({ format: "der", type: "spki" }), x509.publicKey.export({ format: "der", type: "spki" }));
	t.false(new X509Certificate(readFileSync(server.cert)).checkIssued(x509));
	t.throws(() => makeDeviceCa(ca.dir), { message: /device-ca\.pem exists; refusing to overwrite it/ });
	t.is(readFileSync(ca.cert, "utf8"), ca.caPem);
});

test("makeDeviceCertificate: an RSA 2048 PKCS#8 key and a certificate for CN = the device id only, clientAuth, signed by the device CA", (t) => {
	const ca = deviceCa();
	const made = makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "sensor_7.hall-B" });
	t.true(made.key.startsWith("-----BEGIN PRIVATE KEY-----\n"), "not PKCS#8");
	const key = createPrivateKey(made.key);
	t.is(key.asymmetricKeyType, "rsa");
	t.is(key.asymmetricKeyDetails?.modulusLength, 2048);
	const cert = new X509Certificate(made.cert);
	t.is(cert.subject, "CN=sensor_7.hall-B");
	t.is(cert.subjectAltName, undefined);
	t.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
	t.false(cert.ca);
	t.true(cert.checkPrivateKey(key));
	const issuer = new X509Certificate(ca.caPem);
	t.true(cert.checkIssued(issuer));
	t.true(cert.verify(issuer.publicKey));
	const file = join(mkdtempSync(join(tmpdir(), "xs-fota-device-cert-")), "device.pem");
	writeFileSync(file, made.cert);
	const verified = spawnSync("openssl", ["verify", "-purpose", "sslclient", "-CAfile", ca.cert, file], { encoding: "utf8" });
	t.is(verified.status, 0, verified.stderr);
	const asServer = spawnSync("openssl", ["verify", "-purpose", "sslserver", "-CAfile", ca.cert, file], { encoding: "utf8" });
	t.not(asServer.status, 0, "a device certificate is good for a server too");
	// the CA given as PEM text works the same; every certificate has its own key and serial
	const again = makeDeviceCertificate({ caCert: ca.caPem, caKey: ca.caKeyPem, deviceId: "sensor_7.hall-B", days: 30 });
	const second = new X509Certificate(again.cert);
	t.true(second.checkIssued(issuer));
	t.not(second.serialNumber, cert.serialNumber);
	t.not(again.key, made.key);
	t.true(new Date(second.validTo).getTime() - Date.now() < 31 * 86400_000);
});

test("makeDeviceCertificate refuses a device id that is not 1-64 of [A-Za-z0-9._-], and a CA key that is not the CA's", (t) => {
	const ca = deviceCa();
	for (const deviceId of ["", "a".repeat(65), "dev 1", "a/b", "x,O=evil", "CN=x", "dev\n1", "dév"])
		t.throws(() => makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId }), { message: /must be 1 to 64 characters/ }, JSON.stringify(deviceId));
	t.notThrows(() => makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "a".repeat(64) }));
	const other = makeDeviceCa(mkdtempSync(join(tmpdir(), "xs-fota-other-ca-")));
	t.throws(() => makeDeviceCertificate({ caCert: ca.cert, caKey: other.key, deviceId: "dev-1" }), { message: /openssl x509 failed/ });
	t.throws(() => makeDeviceCertificate({ caCert: join(ca.dir, "missing.pem"), caKey: ca.key, deviceId: "dev-1" }), { message: /cannot read the device CA certificate .*ENOENT/ });
});

test("the device config takes clientKey and clientCertificates together, as PEM, and keeps them", (t) => {
	const ca = deviceCa();
	const made = makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "dev-1" });
	const parsed = parseDeviceConfig({ ...base(), clientKey: made.key, clientCertificates: made.cert + ca.caPem });
	t.is(parsed.clientKey, made.key);
	t.is(parsed.clientCertificates, made.cert + ca.caPem);
	const none = parseDeviceConfig(base());
	t.false("clientKey" in none);
	t.false("clientCertificates" in none);
	t.throws(() => parseDeviceConfig({ ...base(), clientKey: made.key }), { message: /clientKey needs clientCertificates/ });
	t.throws(() => parseDeviceConfig({ ...base(), clientCertificates: made.cert }), { message: /clientCertificates needs clientKey/ });
});

test("the device config refuses keys that Moddable's TLS cannot sign with, and malformed or oversized PEM", (t) => {
	const ca = deviceCa();
	const made = makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "dev-1" });
	const with_ = (fields: object) => () => parseDeviceConfig({ ...base(), clientKey: made.key, clientCertificates: made.cert, ...fields });
	const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ format: "pem", type: "pkcs8" }) as string;
	t.throws(with_({ clientKey: ec }), { message: /clientKey must be an RSA key/ });
	const ed = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
	t.throws(with_({ clientKey: ed }), { message: /clientKey must be an RSA key/ });
	const pkcs1 = createPrivateKey(made.key).export({ format: "pem", type: "pkcs1" }) as string;
	t.throws(with_({ clientKey: pkcs1 }), { message: /clientKey must be PEM "PRIVATE KEY", not "RSA PRIVATE KEY" \(convert it to unencrypted PKCS#8/ });
	const encrypted = createPrivateKey(made.key).export({ format: "pem", type: "pkcs8", cipher: "aes-128-cbc", passphrase: "x" }) as string;
	t.throws(with_({ clientKey: encrypted }), { message: /not "ENCRYPTED PRIVATE KEY"/ });
	t.throws(with_({ clientKey: made.key + made.key }), { message: /exactly one PEM "PRIVATE KEY" block, not 2/ });
	t.throws(with_({ clientKey: made.key + made.cert }), { message: /clientKey must be PEM "PRIVATE KEY", not "CERTIFICATE"/ });
	t.throws(with_({ clientKey: made.key.replace("-----END PRIVATE KEY-----", "") }), { message: /has no END line/ });
	t.throws(with_({ clientKey: made.key.replace(/\n([A-Za-z])/, "\n*$1") }), { message: /not base64/ });
	t.throws(with_({ clientKey: "junk" + made.key }), { message: /clientKey must hold only PEM "PRIVATE KEY" blocks/ });
	t.throws(with_({ clientKey: made.key + " ".repeat(MAX_CLIENT_KEY_CHARS) }), { message: /at most 8192 characters/ });
	t.throws(with_({ clientKey: 42 }), { message: /clientKey must be a PEM/ });
	t.throws(with_({ clientCertificates: made.key }), { message: /clientCertificates must be PEM "CERTIFICATE", not "PRIVATE KEY"/ });
	t.throws(with_({ clientCertificates: made.cert.repeat(5) }), { message: /1 to 4 PEM "CERTIFICATE" blocks, not 5/ });
	t.throws(with_({ clientCertificates: made.cert.repeat(20) }), { message: /at most 16384 characters/ });
	t.throws(with_({ clientCertificates: "" }), { message: /clientCertificates must be PEM "CERTIFICATE" blocks/ });
	t.notThrows(with_({ clientCertificates: made.cert.repeat(4) }));
});

/** The JSON that `provision` wrote into a flash file's fotacfg partition. */
function configIn(flash: string): any {
	return JSON.parse(readDeviceConfig(flash)!);
}

function provisionSetup() {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-identity-cli-"));
	const init = cli("init", "--out", join(dir, "certs"));
	const keygen = cli("keygen", "--out", join(dir, "keys"), "--name", "release");
	writeFileSync(join(dir, "v1.img"), buildLinImage(Buffer.concat([Buffer.from("\x7fELF", "latin1"), Buffer.alloc(64)]), "1.0.0"));
	const args = (id: string, flash: string) => ["provision", "--flash", join(dir, flash), "--image", join(dir, "v1.img"), "--device-id", id, "--product", "p",
		"--server", "https://localhost:8443", "--ca", join(dir, "certs/ca.pem"), "--pub", join(dir, "keys/release.pub")];
	return { dir, init, keygen, args };
}

test("init also writes the device CA; provision --device-ca gives the device its own key and certificate in its config", (t) => {
	const s = provisionSetup();
	t.is(s.init.status, 0, s.init.stderr);
	t.is(s.keygen.status, 0, s.keygen.stderr);
	t.regex(s.init.stdout, /device CA\s+\S+device-ca\.pem \(signs devices' certificates: xs-fota provision --device-ca /);
	t.is(statSync(join(s.dir, "certs/device-ca.key")).mode & 0o777, 0o600);
	const deviceCaPem = new X509Certificate(readFileSync(join(s.dir, "certs/device-ca.pem")));
	t.false(new X509Certificate(readFileSync(join(s.dir, "certs/server.pem"))).checkIssued(deviceCaPem), "the server's certificate is signed by the device CA");
	const run = cli(...s.args("dev-9", "a.flash"), "--device-ca", join(s.dir, "certs"));
	t.is(run.status, 0, run.stderr);
	t.is(run.stderr, "");
	t.regex(run.stdout, /identity: CN=dev-9, CN=xs-fota device CA signed it/);
	const config = configIn(join(s.dir, "a.flash"));
	const cert = new X509Certificate(config.clientCertificates);
	t.is(cert.subject, "CN=dev-9");
	t.true(cert.checkIssued(deviceCaPem));
	t.true(cert.checkPrivateKey(createPrivateKey(config.clientKey)));
	t.is(parseDeviceConfig(config).clientKey, config.clientKey);
	t.deepEqual(config.configKeys, undefined, "no --config-pub: no config key");
	// --config-pub: the vendor's config key, in its own role
	const configKeygen = cli("keygen", "--out", join(s.dir, "keys"), "--name", "config");
	t.is(configKeygen.status, 0, configKeygen.stderr);
	const withConfigKey = cli(...s.args("dev-8", "d.flash"), "--device-ca", join(s.dir, "certs"), "--config-pub", join(s.dir, "keys/config.pub"));
	t.is(withConfigKey.status, 0, withConfigKey.stderr);
	const configPub = JSON.parse(readFileSync(join(s.dir, "keys/config.pub"), "utf8"));
	t.deepEqual(configIn(join(s.dir, "d.flash")).configKeys, [{ keyId: configPub.keyId, publicKey: configPub.publicKey }]);
	t.deepEqual(parseDeviceConfig(configIn(join(s.dir, "d.flash"))).configKeys.map((k) => k.keyId), [configPub.keyId]);
	// the same key in both roles is refused
	const both = cli(...s.args("dev-7", "e.flash"), "--config-pub", join(s.dir, "keys/release.pub"));
	t.is(both.status, 1);
	t.regex(both.stderr, /both a firmware key and a config key/);
	// a device id the certificate cannot carry is refused, and nothing is written
	const bad = cli(...s.args("dev 9", "b.flash"), "--device-ca", join(s.dir, "certs"));
	t.is(bad.status, 1);
	t.regex(bad.stderr, /device id "dev 9" must be 1 to 64 characters/);
	t.false(existsSync(join(s.dir, "b.flash")));
	const missing = cli(...s.args("dev-9", "c.flash"), "--device-ca", join(s.dir, "keys"));
	t.is(missing.status, 1);
	t.regex(missing.stderr, /device-ca\.pem is missing: --device-ca names the folder where xs-fota init wrote/);
	// init refuses a folder that has any of its files, and leaves it as it was
	const again = cli("init", "--out", join(s.dir, "certs"));
	t.is(again.status, 1);
	t.regex(again.stderr, /refusing to overwrite/);
});

test("provision without --device-ca warns that the device has no identity; a config with a wrong identity is refused", (t) => {
	const s = provisionSetup();
	const plain = cli(...s.args("dev-10", "a.flash"));
	t.is(plain.status, 0, plain.stderr);
	t.regex(plain.stderr, /warning: device dev-10 has no identity of its own .*a server that requires mutual TLS will refuse it/);
	t.false("clientKey" in configIn(join(s.dir, "a.flash")));
	const ca = { cert: join(s.dir, "certs/device-ca.pem"), key: join(s.dir, "certs/device-ca.key") };
	const mine = makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "dev-11" });
	const theirs = makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "dev-12" });
	const config = { ...base(), deviceId: "dev-11", keys: [{ keyId: JSON.parse(readFileSync(join(s.dir, "keys/release.pub"), "utf8")).keyId, publicKey: JSON.parse(readFileSync(join(s.dir, "keys/release.pub"), "utf8")).publicKey }] };
	const write = (name: string, fields: object) => {
		writeFileSync(join(s.dir, name), JSON.stringify({ ...config, ...fields }));
		return cli("provision", "--flash", join(s.dir, "a.flash"), "--config", join(s.dir, name));
	};
	const good = write("good.json", { clientKey: mine.key, clientCertificates: mine.cert });
	t.is(good.status, 0, good.stderr);
	t.is(good.stderr, "");
	t.is(configIn(join(s.dir, "a.flash")).clientKey, mine.key);
	const swapped = write("swapped.json", { clientKey: theirs.key, clientCertificates: mine.cert });
	t.is(swapped.status, 1);
	t.regex(swapped.stderr, /clientKey is not the key of the first certificate in clientCertificates/);
	const other = write("other.json", { clientKey: theirs.key, clientCertificates: theirs.cert });
	t.is(other.status, 1);
	t.regex(other.stderr, /the first certificate in clientCertificates is for "CN=dev-12", not CN=dev-11/);
	t.is(configIn(join(s.dir, "a.flash")).clientKey, mine.key, "a refused config was written");
	const twice = cli("provision", "--flash", join(s.dir, "a.flash"), "--config", join(s.dir, "good.json"), "--device-ca", join(s.dir, "certs"));
	t.is(twice.status, 1);
	t.regex(twice.stderr, /already has a clientKey/);
});
