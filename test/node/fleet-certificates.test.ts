// The fleet's device certificates, written in DER in-process (tools/fleet/certificates.ts): openssl reads them as
// what they claim to be, the management server (node TLS trusting the device CA) accepts them and takes the device
// id from their CN, a certificate of another CA is refused, and a cache folder makes a rerun reuse them.
import test from "ava";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FleetCertificates } from "../../tools/fleet/certificates.js";
import { makeDeviceCa } from "../../tools/server/certificates.js";
import { devCertificates, serve } from "./lib/https-fixture.js";

function report(url: string, ca: string, deviceId: string, key: string, cert: string): Promise<number> {
	const body = JSON.stringify({ product: "demo", version: "1.0.0", state: "valid", securityVersion: 1, sequence: 1, slot: 0 });
	return new Promise((resolve, reject) => {
		const outgoing = request(`${url}/v1/devices/${deviceId}/report`, { method: "POST", ca, key, cert, agent: false,
			headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (response) => {
			response.resume();
			response.on("end", () => resolve(response.statusCode ?? 0));
		});
		outgoing.on("error", reject);
		outgoing.end(body);
	});
}

test("a fleet certificate is an X.509 v3 client certificate for the shared key, CN = the device id, signed by the device CA", (t) => {
	const { deviceCa } = devCertificates();
	const certificates = new FleetCertificates({ caCert: deviceCa.cert, caKey: deviceCa.key });
	const pem = certificates.certificate("sim-00042");
	const certificate = new X509Certificate(pem);
	const ca = new X509Certificate(readFileSync(deviceCa.cert));
	t.is(certificate.subject, "CN=sim-00042");
	t.is(certificate.issuer, ca.subject);
	t.true(certificate.checkIssued(ca));
	t.true(certificate.verify(ca.publicKey));
	t.false(certificate.ca);
	t.deepEqual(certificate.keyUsage, ["1.3.6.1.5.5.7.3.2"]); // extendedKeyUsage clientAuth
	t.is(certificate.publicKey.asymmetricKeyType, "rsa");
	t.is(certificate.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
	t.true(certificate.checkPrivateKey(createPrivateKey(certificates.key)));
	t.true(new Date(certificate.validFrom) < new Date() && new Date(certificate.validTo) > new Date(Date.now() + 7 * 86_400_000));
	// openssl agrees: a valid client certificate from this CA, with the extensions it claims
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-fleet-cert-"));
	writeFileSync(join(dir, "device.pem"), pem);
	t.regex(execFileSync("openssl", ["verify", "-CAfile", deviceCa.cert, "-purpose", "sslclient", join(dir, "device.pem")], { encoding: "utf8" }), /OK/);
	const text = execFileSync("openssl", ["x509", "-in", join(dir, "device.pem"), "-noout", "-text"], { encoding: "utf8" });
	t.regex(text, /Version: 3 \(0x2\)/);
	t.regex(text, /Basic Constraints: critical\s+CA:FALSE/);
	t.regex(text, /Key Usage: critical\s+Digital Signature/);
	t.regex(text, /Extended Key Usage: \s*TLS Web Client Authentication/);
	// every device shares the key, each has its own certificate and serial
	const other = new X509Certificate(certificates.certificate("sim-00043"));
	t.is(other.subject, "CN=sim-00043");
	t.not(other.serialNumber, certificate.serialNumber);
	t.true(other.publicKey.equals(certificate.publicKey));
	t.throws(() => certificates.certificate("no spaces"), { message: /device id "no spaces" must be/ });
});

test("the server accepts a fleet certificate and takes the device id from its CN; another CA's is refused", async (t) => {
	const served = await serve();
	try {
		const { deviceCa } = devCertificates();
		const ours = new FleetCertificates({ caCert: deviceCa.cert, caKey: deviceCa.key });
		t.is(await report(served.url, served.caPem, "fleet-1", ours.key, ours.certificate("fleet-1")), 204);
		t.like(await served.store.device("fleet-1"), { deviceId: "fleet-1", version: "1.0.0", state: "valid" });
		t.is(await report(served.url, served.caPem, "fleet-2", ours.key, ours.certificate("fleet-1")), 403, "a report in another device's name");
		const foreign = makeDeviceCa(mkdtempSync(join(tmpdir(), "xs-fota-fleet-other-ca-")));
		const theirs = new FleetCertificates({ caCert: foreign.cert, caKey: foreign.key });
		t.is(await report(served.url, served.caPem, "fleet-3", theirs.key, theirs.certificate("fleet-3")), 401);
		t.is(await served.store.device("fleet-3"), undefined);
	} finally {
		await served.close();
	}
});

test("a cache folder keeps the key and the certificates: a second run makes none; a mismatched CA key is refused", (t) => {
	const { deviceCa } = devCertificates();
	const cacheDir = mkdtempSync(join(tmpdir(), "xs-fota-fleet-cache-"));
	const first = new FleetCertificates({ caCert: deviceCa.cert, caKey: deviceCa.key, cacheDir });
	const made = ["a-1", "a-2", "a-3"].map((id) => first.certificate(id));
	first.save();
	const second = new FleetCertificates({ caCert: deviceCa.cert, caKey: deviceCa.key, cacheDir });
	t.is(second.key, first.key);
	t.is(second.count, 3);
	t.deepEqual(["a-1", "a-2", "a-3"].map((id) => second.certificate(id)), made);
	// another CA: its own cache entry, its own key
	const foreign = makeDeviceCa(mkdtempSync(join(tmpdir(), "xs-fota-fleet-other-ca-")));
	const third = new FleetCertificates({ caCert: foreign.cert, caKey: foreign.key, cacheDir });
	t.not(third.key, first.key);
	t.is(third.count, 0);
	t.throws(() => new FleetCertificates({ caCert: deviceCa.cert, caKey: foreign.key }), { message: /not the key of the device CA certificate/ });
});
