// The CLI's config commands against a running `xs-fota serve` (issue 12): `config sign` writes only documents a
// device would take (a secret, unknown or missing setting, a bad --set, a bad sequence: refused with the reason),
// `keys add --role config` trusts a config key, `config push` uploads (a document signed with the firmware key, or
// pushed twice, is refused by the server with its reason), `config show` tells what a device runs (factory copy
// marked), its last known good config, what is pending and its history, and `rollout create --config` rolls a staged
// document out.
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, startFleet } from "./lib/serve-cli.js";
import { call } from "./lib/https-fixture.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";
import { CONFIG_HEADER, CONFIG_PENDING_HEADER, configPath, manifestPath, reportPath } from "../../modules/fota/protocol.js";

test("config sign, keys add --role config, config push, config show and rollout create --config", async (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-cli-config-"));
	const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
	t.is(cli("init", "--out", join(dir, "certs")).status, 0);
	t.is(cli("keygen", "--out", join(dir, "keys"), "--name", "release").status, 0);
	t.is(cli("keygen", "--out", join(dir, "keys"), "--name", "config").status, 0);
	const pub = (name: string) => JSON.parse(readFileSync(join(dir, `keys/${name}.pub`), "utf8")) as { keyId: string; publicKey: string };
	const settings = { server: "https://fota.example", ca: readFileSync(join(dir, "certs/ca.pem"), "utf8"), keys: [pub("release")], configKeys: [pub("config")], pollSeconds: 600 };
	writeFileSync(join(dir, "settings.json"), JSON.stringify(settings));
	const sign = (sequence: string, out: string, ...more: string[]) => cli("config", "sign", "--key", join(dir, "keys/config.key"), "--product", "demo",
		"--sequence", sequence, "--settings", join(dir, "settings.json"), "--out", join(dir, out), ...more);

	// refused at signing, each with its reason, and nothing written
	const refusals: [string[], number, RegExp][] = [
		[["--set", "clientKey=\"-----BEGIN PRIVATE KEY-----\""], 1, /a device would refuse this document \(secret-field\): clientKey is the device's own identity/],
		[["--set", "colour=\"red\""], 1, /\(unknown-field\): settings\["colour"\] is not a setting/],
		[["--set", "chunkBytes=5000"], 1, /\(invalid-setting\): device config: chunkBytes must be a multiple of 4096/],
		[["--set", "pollSeconds"], 2, /--set "pollSeconds" must be NAME=JSON/],
		[["--set", "server=https://x"], 2, /--set server: "https:\/\/x" is not JSON \(a string needs its quotes/],
		[["--set", "configKeys=[]"], 1, /settings\.configKeys must list at least one config key/],
	];
	for (const [more, status, message] of refusals) {
		const refused = sign("1", "refused.xfc", ...more);
		t.is(refused.status, status, `${more.join(" ")}: ${refused.stderr}`);
		t.regex(refused.stderr, message);
	}
	t.regex(sign("0", "zero.xfc").stderr, /--sequence must be 1 or more/);
	t.regex(cli("config", "sign", "--key", join(dir, "keys/config.key"), "--product", "demo", "--sequence", "1", "--settings", join(dir, "nothing.json"), "--out", join(dir, "x.xfc")).stderr,
		/cannot read the settings file .*nothing\.json: ENOENT/);
	writeFileSync(join(dir, "list.json"), "[1]");
	t.regex(cli("config", "sign", "--key", join(dir, "keys/config.key"), "--product", "demo", "--sequence", "1", "--settings", join(dir, "list.json"), "--out", join(dir, "x.xfc")).stderr,
		/must hold a JSON object of settings/);
	const one = sign("1", "one.xfc", "--set", "pollSeconds=300");
	t.is(one.status, 0, one.stderr);
	t.regex(one.stdout, new RegExp(`config document 1 for demo \\(every device\\), signed with config key ${pub("config").keyId}: .*one\\.xfc \\(\\d+ bytes\\)`));
	const byFirmwareKey = cli("config", "sign", "--key", join(dir, "keys/release.key"), "--product", "demo", "--sequence", "5", "--settings", join(dir, "settings.json"), "--out", join(dir, "firmware.xfc"));
	t.is(byFirmwareKey.status, 1, "the key's id is a firmware key in the settings: the tool refuses it too");
	t.regex(byFirmwareKey.stderr, /wrong-key-role/);

	const served = await startFleet(dir);
	t.teardown(() => served.child.kill("SIGTERM"));
	const { run } = served;
	// without a config key the server takes no document
	const early = run("config", "push", join(dir, "one.xfc"));
	t.is(early.status, 1);
	t.regex(early.stderr, /the server refused \(422\): no-config-keys/);
	const badRole = run("keys", "add", "--product", "demo", "--pub", join(dir, "keys/config.pub"), "--role", "admin");
	t.is(badRole.status, 2);
	t.regex(badRole.stderr, /--role must be firmware .* or config/);
	const added = run("keys", "add", "--product", "demo", "--pub", join(dir, "keys/config.pub"), "--role", "config");
	t.is(added.status, 0, added.stderr);
	t.like(JSON.parse(added.stdout), { keyId: pub("config").keyId, role: "config" });
	// a document signed with the firmware key (made outside the tool's own check) is refused by the server
	writeFileSync(join(dir, "settings-other.json"), JSON.stringify({ ...settings, keys: [pub("config")], configKeys: [pub("release")] }));
	t.is(cli("config", "sign", "--key", join(dir, "keys/release.key"), "--product", "demo", "--sequence", "5", "--settings", join(dir, "settings-other.json"), "--out", join(dir, "firmware.xfc")).status, 0);
	const wrongRole = run("config", "push", join(dir, "firmware.xfc"));
	t.is(wrongRole.status, 1);
	t.regex(wrongRole.stderr, /the server refused \(422\): wrong-key-role: .*is a firmware key/);
	const pushed = run("config", "push", join(dir, "one.xfc"));
	t.is(pushed.status, 0, pushed.stderr);
	t.like(JSON.parse(pushed.stdout), { product: "demo", sequence: 1, staged: false, keyId: pub("config").keyId, createdBy: "erin" });
	const again = run("config", "push", join(dir, "one.xfc"));
	t.is(again.status, 1);
	t.regex(again.stderr, /\(409\): sequence-used/);
	t.regex(run("config", "push", join(dir, "missing.xfc")).stderr, /cannot read the config document .*missing\.xfc: ENOENT/);

	// a device checks in, is given document 1, keeps it, then loses both copies
	const deviceCa = { caCert: join(dir, "certs/device-ca.pem"), caKey: join(dir, "certs/device-ca.key") };
	const made = makeDeviceCertificate({ ...deviceCa, deviceId: "unit-9" });
	const at = { url: served.url, caPem: readFileSync(join(dir, "certs/ca.pem"), "utf8"), identity: () => ({ ca: "", clientKey: made.key, clientCertificates: made.cert }) };
	const polled = await call(at, "GET", manifestPath("demo"), { device: "unit-9", headers: { "x-fota-version": "1.0.0", [CONFIG_HEADER]: "0" } });
	t.is(polled.headers[CONFIG_PENDING_HEADER], "1");
	t.is((await call(at, "GET", configPath("unit-9"), { device: "unit-9" })).status, 200);
	const config = (sequence: number, source: string, lost?: string[]) => ({ sha256: String(sequence).repeat(64), fields: { pollSeconds: 300 }, sequence, source, ...(lost ? { lost } : {}) });
	t.is((await call(at, "POST", reportPath("unit-9"), { device: "unit-9", json: { product: "demo", version: "1.0.0", state: "config-valid", configTarget: 1, config: config(1, "working") } })).status, 204);
	let shown = run("config", "show", "unit-9");
	t.is(shown.status, 0, shown.stderr);
	t.regex(shown.stdout, /^unit-9: config 1 \(working copy\), sha256 111111111111, as of /m);
	t.regex(shown.stdout, /last known good: config 1, sha256 111111111111, kept /);
	t.regex(shown.stdout, /pending: nothing/);
	t.regex(shown.stdout, /config-valid config 1$/m);
	t.is((await call(at, "POST", reportPath("unit-9"), { device: "unit-9", json: { product: "demo", version: "1.0.0", state: "valid", config: config(0, "factory", ["working-0", "working-1"]) } })).status, 204);
	shown = run("config", "show", "unit-9");
	t.regex(shown.stdout, /^unit-9: config 0 \(FACTORY copy\), sha256 000000000000, .*; lost copies: working-0, working-1$/m);
	t.regex(shown.stdout, /pending: config 1$/m);
	t.like(JSON.parse(run("config", "show", "unit-9", "--json").stdout), { current: { sequence: 0, source: "factory" }, lastKnownGood: { sequence: 1 }, pending: { sequence: 1 } });
	t.regex(run("config", "show", "nobody").stderr, /the server refused \(404\): not-found/);
	t.is(run("config", "show", "../etc").status, 2);

	// a staged document, rolled out
	t.is(sign("2", "two.xfc").status, 0);
	t.is(run("config", "push", join(dir, "two.xfc"), "--staged").status, 0);
	const both = run("rollout", "create", "--product", "demo", "--version", "1.0.0", "--config", "2");
	t.is(both.status, 2);
	t.regex(both.stderr, /give --version .* or --config .*, one of them/);
	t.regex(run("rollout", "create", "--product", "demo", "--config", "two").stderr, /--config must be an integer/);
	t.regex(run("rollout", "create", "--product", "demo", "--config", "1").stderr, /\(409\): not-staged: config document 1 of demo/);
	const rolled = run("rollout", "create", "--product", "demo", "--config", "2", "--stages", "100");
	t.is(rolled.status, 0, rolled.stderr);
	t.regex(rolled.stdout, /^rollout 1: demo config 2 \(sequence 2\) \[running\] started: stage 1 of 1 opened/m);
	const offered = await call(at, "GET", manifestPath("demo"), { device: "unit-9", headers: { "x-fota-version": "1.0.0", [CONFIG_HEADER]: "1" } });
	t.is(offered.headers[CONFIG_PENDING_HEADER], "2");
});
