// Issue 9, defect 10, in XS with the native SHA-256: the device config's key ids are derived from their keys and unique.
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
