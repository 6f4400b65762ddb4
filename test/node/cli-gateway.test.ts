// The CLI's gateway commands: `gateways cert` (the gateway's identity from the device CA), `gateways register|show`
// against `xs-fota serve` (the cloud's say over which devices a gateway may act for), and `gateway` refusing a config
// with the field named.
import test from "ava";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, startServe } from "./lib/serve-cli.js";

function cli(args: string[], env: Record<string, string> = {}) {
	return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
}

test("gateways cert writes the gateway's key (0600) and a client certificate from the device CA, and never overwrites", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-cli-gateway-"));
	t.is(cli(["init", "--out", join(dir, "certs")]).status, 0);
	const run = cli(["gateways", "cert", "gw-7", "--device-ca", join(dir, "certs"), "--out", join(dir, "gw")]);
	t.is(run.status, 0, run.stderr);
	t.is(statSync(join(dir, "gw/gw-7.key")).mode & 0o777, 0o600);
	const cert = new X509Certificate(readFileSync(join(dir, "gw/gw-7.pem")));
	t.is(cert.subject, "CN=gw-7");
	t.true(cert.verify(new X509Certificate(readFileSync(join(dir, "certs/device-ca.pem"))).publicKey));
	const again = cli(["gateways", "cert", "gw-7", "--device-ca", join(dir, "certs"), "--out", join(dir, "gw")]);
	t.is(again.status, 1);
	t.regex(again.stderr, /refusing to overwrite/);
	const bad = cli(["gateways", "cert", "../gw", "--device-ca", join(dir, "certs"), "--out", join(dir, "gw")]);
	t.is(bad.status, 1);
	t.regex(bad.stderr, /must be 1 to 64 characters/);
});

test("gateways register and show: the devices a gateway may act for, through the admin API", async (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-cli-gateway-"));
	t.is(cli(["init", "--out", join(dir, "certs")]).status, 0);
	const token = cli(["admin", "token", "create", "--data", join(dir, "fleet"), "--name", "me"]).stdout.trim();
	const { child, url } = await startServe(["--certs", join(dir, "certs"), "--data", join(dir, "fleet")]);
	try {
		const env = { XSFOTA_SERVER: url, XSFOTA_CA: join(dir, "certs/ca.pem"), XSFOTA_TOKEN: token };
		const registered = cli(["gateways", "register", "gw-1", "--device", "dev-a", "--device", "dev-b"], env);
		t.is(registered.status, 0, registered.stderr);
		t.deepEqual(JSON.parse(registered.stdout), { gateway: "gw-1", devices: ["dev-a", "dev-b"] });
		const moved = cli(["gateways", "register", "gw-2", "--device", "dev-b"], env);
		t.deepEqual(JSON.parse(moved.stdout), { gateway: "gw-2", devices: ["dev-b"] });
		const removed = cli(["gateways", "register", "gw-1", "--remove", "dev-a", "--remove", "dev-b"], env);
		t.deepEqual(JSON.parse(removed.stdout), { gateway: "gw-1", devices: [] });
		t.deepEqual(JSON.parse(cli(["gateways", "show", "gw-2"], env).stdout), { gateway: "gw-2", devices: ["dev-b"] });
		const itself = cli(["gateways", "register", "gw-1", "--device", "gw-1"], env);
		t.is(itself.status, 1);
		t.regex(itself.stderr, /400\): bad-devices/);
		const none = cli(["gateways", "register", "gw-1"], env);
		t.is(none.status, 2);
	} finally {
		child.kill();
	}
});

test("gateway refuses a config it cannot run, naming the field", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-cli-gateway-"));
	t.is(cli(["init", "--out", join(dir, "certs")]).status, 0);
	t.is(cli(["gateways", "cert", "gw-1", "--device-ca", join(dir, "certs"), "--out", dir]).status, 0);
	const base = { upstream: "https://localhost:8443", upstreamCa: "certs/ca.pem", key: "gw-1.key", cert: "gw-1.pem", state: "state",
		listen: { port: 0, cert: "certs/server.pem", key: "certs/server.key", deviceCa: "certs/device-ca.pem" }, products: { "demo-board": [] } };
	for (const [config, why] of [
		[{ ...base, upstream: "http://localhost:8443" }, /upstream must be an https:\/\/ URL/],
		[base, /products\.demo-board must be 1 to 16 keys/],
		[{ ...base, products: { "demo-board": [{ keyId: "0000000000000000", publicKey: "ab".repeat(32) }] } }, /keyId must be the key's id/],
		[{ ...base, cert: "certs/device-ca.pem" }, /cert must name the gateway/],
		[{ ...base, extra: 1 }, /extra is not a gateway config field/],
	] as const) {
		writeFileSync(join(dir, "gateway.json"), JSON.stringify(config));
		const run = cli(["gateway", "--config", join(dir, "gateway.json")]);
		t.is(run.status, 1, run.stderr);
		t.regex(run.stderr, why);
	}
	t.false(existsSync(join(dir, "state")), "a refused config made the state folder");
});

test("sign takes the gateway's own kind, node, for a release of the gateway's software", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-cli-gateway-"));
	t.is(cli(["keygen", "--out", join(dir, "keys"), "--name", "release"]).status, 0);
	writeFileSync(join(dir, "gateway-2.0.0.tgz"), Buffer.alloc(5000, 3));
	const signed = cli(["sign", "--key", join(dir, "keys/release.key"), "--image", join(dir, "gateway-2.0.0.tgz"), "--product", "xs-fota-gateway",
		"--version", "2.0.0", "--security-version", "1", "--sequence", "2", "--kind", "node", "--out", join(dir, "out")]);
	t.is(signed.status, 0, signed.stderr);
	const verified = cli(["verify", "--pub", join(dir, "keys/release.pub"), "--manifest", join(dir, "out/manifest.xfm"), "--image", join(dir, "out/gateway-2.0.0.tgz")]);
	t.is(verified.status, 0, verified.stderr);
	const other = cli(["sign", "--key", join(dir, "keys/release.key"), "--image", join(dir, "gateway-2.0.0.tgz"), "--product", "p",
		"--version", "2.0.0", "--security-version", "1", "--sequence", "2", "--kind", "python", "--out", join(dir, "other")]);
	t.is(other.status, 2);
	t.regex(other.stderr, /--kind must be one of esp32, lin, sim, node/);
});
