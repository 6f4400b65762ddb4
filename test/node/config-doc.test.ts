// Config documents opened as a device opens them (modules/fota/config-doc.ts): signature first, with a config key
// only; a bounded, strict body; a fresh sequence; no field of the device's identity; the resulting config valid.
// Each refusal is a real document a forger, a replayer or a careless vendor could send.
import test from "ava";
import { openConfigDoc, type ConfigContext } from "../../modules/fota/config-doc.js";
import { parseDeviceConfig } from "../../modules/fota/config.js";
import { MAX_CONFIG_DOC_BYTES } from "../../modules/fota/envelope.js";
import { nodeSha256 } from "../../tools/cli/keys.js";
import { signConfigDoc, ConfigDocError } from "../../tools/release/config-doc.js";
import { nodeVerify } from "../../tools/cli/verifier.js";
import { nodeVerifier } from "./fakes/device.js";
import { seal } from "./lib/signing.js";
import { configKey, docBody, factory, firmwareKey, otherKey, sealConfig, settings, trusted } from "./lib/config.js";

function context(changes: Partial<ConfigContext> = {}, raw = factory()): ConfigContext {
	return { config: parseDeviceConfig(raw, nodeSha256), raw, sequence: 0, failedSequence: 0, ...changes };
}
const open = (bytes: Uint8Array, ctx = context()) => openConfigDoc(bytes, ctx, nodeVerifier.verify, nodeSha256);

test("a document signed with the config key is opened: the settings replace the device's, its identity stays", (t) => {
	const raw = factory({ clientKey: "kept-as-is", clientCertificates: "kept-as-is", futureField: { x: 1 } });
	// (the identity is not parsed here: a stand-in object with a TLS identity would fail the PEM checks)
	const { clientKey: _k, clientCertificates: _c, ...plain } = raw;
	const opened = open(sealConfig(docBody(5, { pollSeconds: 30, jitter: 0.25, app: { sensorMax: 40 } })), context({}, plain));
	t.true(opened.ok, JSON.stringify(opened));
	if (!opened.ok)
		return;
	t.like(opened.doc, { keyId: configKey.keyId, product: "demo-board", sequence: 5 });
	t.like(opened.config, { deviceId: "dev-1", pollSeconds: 30, jitter: 0.25, app: { sensorMax: 40 } });
	t.deepEqual(opened.raw.futureField, { x: 1 }, "a field this version does not know is kept");
});

test("refused: a forged document (another key signs under the config key's id)", (t) => {
	t.like(open(sealConfig(docBody(5), otherKey, configKey.keyId)), { ok: false, reason: "bad-signature" });
});

test("refused: a document signed with the firmware key, even one the device trusts for manifests", (t) => {
	const opened = open(sealConfig(docBody(5), firmwareKey));
	t.like(opened, { ok: false, reason: "wrong-key-role" });
	t.regex((opened as { detail: string }).detail, /firmware key/);
});

test("refused: a document by a key the device does not know, and any document on a device with no config key", (t) => {
	t.like(open(sealConfig(docBody(5), otherKey)), { ok: false, reason: "unknown-key" });
	const { configKeys: _, ...raw } = factory();
	t.like(open(sealConfig(docBody(5)), context({}, raw)), { ok: false, reason: "no-config-keys" });
});

test("refused: a replayed document (its sequence is not newer), and one that failed its trial here", (t) => {
	const doc = sealConfig(docBody(5));
	t.like(open(doc, context({ sequence: 5 })), { ok: false, reason: "replay", sequence: 5 });
	t.like(open(doc, context({ sequence: 9 })), { ok: false, reason: "replay" });
	t.like(open(doc, context({ sequence: 4, failedSequence: 5 })), { ok: false, reason: "previously-failed" });
});

test("refused: a document that sets any part of the device's identity (its secrets among them)", (t) => {
	for (const field of ["deviceId", "product", "clientKey", "clientCertificates"]) {
		const opened = open(sealConfig(docBody(5, { [field]: "attacker's" })));
		t.like(opened, { ok: false, reason: "secret-field" }, field);
	}
});

test("refused: unknown settings, unknown top fields, missing required settings, wrong product or device", (t) => {
	t.like(open(sealConfig(docBody(5, { wifiPassword: "x" }))), { ok: false, reason: "unknown-field", detail: 'settings["wifiPassword"] is not a setting' });
	t.like(open(sealConfig(docBody(5, { digest: "00" }))), { ok: false, reason: "unknown-field" });
	t.like(open(sealConfig(docBody(5, {}, { extra: 1 }))), { ok: false, reason: "malformed" });
	const { configKeys: _, ...noConfigKeys } = settings();
	t.like(open(sealConfig({ format: 1, product: "demo-board", sequence: 5, settings: noConfigKeys })), { ok: false, reason: "missing-field" });
	t.like(open(sealConfig(docBody(5, {}, { product: "other-board" }))), { ok: false, reason: "wrong-product" });
	t.like(open(sealConfig(docBody(5, {}, { devices: ["dev-2", "dev-3"] }))), { ok: false, reason: "wrong-device" });
	t.true(open(sealConfig(docBody(5, {}, { devices: ["dev-2", "dev-1"] }))).ok);
	t.like(open(sealConfig(docBody(5, {}, { format: 2 }))), { ok: false, reason: "unknown-format" });
});

test("refused: settings that make an invalid config (a plain-http server, an empty config key list, one key in two roles)", (t) => {
	t.like(open(sealConfig(docBody(5, { server: "http://updates.test" }))), { ok: false, reason: "invalid-setting" });
	t.like(open(sealConfig(docBody(5, { configKeys: [] }))), { ok: false, reason: "invalid-setting" });
	t.like(open(sealConfig(docBody(5, { configKeys: [trusted(configKey), trusted(firmwareKey)] }))), { ok: false, reason: "invalid-setting" });
	t.like(open(sealConfig(docBody(5, { chunkBytes: 5000 }))), { ok: false, reason: "invalid-setting" });
});

test("bounded before it is parsed: oversized, deep, odd numbers, a manifest's bytes, torn envelopes", (t) => {
	const big = new Uint8Array(MAX_CONFIG_DOC_BYTES + 1);
	big.set([0x58, 0x46, 0x43, 0x31]);
	t.like(open(big), { ok: false, reason: "oversized" });
	t.like(open(sealConfig(docBody(5, { app: JSON.parse("[".repeat(9) + "]".repeat(9)) }))), { ok: false, reason: "malformed" });
	const withJitter = (text: string) => sealConfig(JSON.stringify(docBody(5, { jitter: "@" })).replace('"@"', text));
	t.true(open(withJitter("0.125")).ok);
	for (const odd of ["1e-1", "0.1234567", "+0.1", "00.1", "-0", ".5"])
		t.like(open(withJitter(odd)), { ok: false }, odd);
	// a manifest signed with the config key is still a manifest: its magic is not a config document's
	t.like(open(seal({ format: 1, product: "demo-board", sequence: 5, settings: settings() }, configKey)), { ok: false, reason: "malformed" });
	const good = sealConfig(docBody(5));
	t.like(open(good.subarray(0, good.length - 1)), { ok: false, reason: "malformed" });
	const flipped = good.slice();
	flipped[20] ^= 1;
	t.like(open(flipped), { ok: false, reason: "bad-signature" });
	const version = good.slice();
	version[3] = 0x32;
	t.like(open(version), { ok: false, reason: "unknown-format" });
});

test("signConfigDoc never emits a document a device would refuse, and its output opens", (t) => {
	const key = { keyId: configKey.keyId, publicKey: configKey.publicKey, privateKey: configKey.privateKey };
	const bytes = signConfigDoc({ product: "demo-board", sequence: 7, settings: settings({ pollSeconds: 5 }) }, key, nodeVerify, nodeSha256);
	t.like(open(bytes), { ok: true, doc: { sequence: 7 } });
	t.throws(() => signConfigDoc({ product: "demo-board", sequence: 7, settings: settings({ clientKey: "x" }) }, key, nodeVerify, nodeSha256),
		{ instanceOf: ConfigDocError, message: /secret-field/ });
	t.throws(() => signConfigDoc({ product: "demo-board", sequence: 0, settings: settings() }, key, nodeVerify, nodeSha256), { message: /sequence/ });
	const forDevices = signConfigDoc({ product: "demo-board", devices: ["dev-9"], sequence: 3, settings: settings() }, key, nodeVerify, nodeSha256);
	t.like(open(forDevices), { ok: false, reason: "wrong-device" });
});
