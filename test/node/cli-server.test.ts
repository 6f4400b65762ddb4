// The CLI's init, serve and provision commands.
import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, startServe } from "./lib/serve-cli.js";
import { keyIdOf } from "../../tools/cli/keys.js";
import { buildLinImage, readImage } from "../../tools/sim/image.js";
import { readSlotImage } from "../../tools/sim/flash.js";


function cli(...args: string[]) {
	return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
}

test("init writes a CA and a server certificate for localhost, keys 0600, and never overwrites", (t) => {
	const dir = join(mkdtempSync(join(tmpdir(), "xs-fota-init-")), "certs");
	const run = cli("init", "--out", dir);
	t.is(run.status, 0, run.stderr);
	for (const name of ["ca.pem", "ca.key", "server.pem", "server.key"])
		t.true(existsSync(join(dir, name)), name);
	t.is(statSync(join(dir, "server.key")).mode & 0o777, 0o600);
	t.is(statSync(join(dir, "ca.key")).mode & 0o777, 0o600);
	const text = spawnSync("openssl", ["x509", "-in", join(dir, "server.pem"), "-noout", "-text"], { encoding: "utf8" }).stdout;
	t.regex(text, /DNS:localhost/);
	t.regex(text, /IP Address:127\.0\.0\.1/);
	const verified = spawnSync("openssl", ["verify", "-CAfile", join(dir, "ca.pem"), join(dir, "server.pem")], { encoding: "utf8" });
	t.is(verified.status, 0, verified.stderr);
	const again = cli("init", "--out", dir);
	t.is(again.status, 1);
	t.regex(again.stderr, /refusing to overwrite/);
});

test("serve with no database option makes its SQLite file; products, keys and releases published with the CLI survive a restart", async (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-serve-cli-"));
	t.is(cli("init", "--out", join(dir, "certs")).status, 0);
	t.is(cli("keygen", "--out", join(dir, "keys"), "--name", "release").status, 0);
	const image = join(dir, "v2.img");
	writeFileSync(image, Buffer.alloc(3000, 7));
	t.is(cli("sign", "--key", join(dir, "keys/release.key"), "--image", image, "--product", "demo", "--version", "2.0.0",
		"--security-version", "1", "--sequence", "2", "--kind", "sim", "--out", join(dir, "release")).status, 0);
	const data = join(dir, "fleet");
	const made = cli("admin", "token", "create", "--data", data, "--name", "ci");
	t.is(made.status, 0, made.stderr);
	const token = made.stdout.trim();
	t.true(existsSync(join(data, "fleet.db")), "no SQLite file");
	t.false(readFileSync(join(data, "fleet.db")).includes(token), "the token itself is in the database");
	const first = await startServe(["--certs", join(dir, "certs"), "--data", data]);
	const env = { XSFOTA_SERVER: first.url, XSFOTA_CA: join(dir, "certs/ca.pem"), XSFOTA_TOKEN: token };
	const withEnv = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
	try {
		t.is(withEnv("products", "add", "demo").status, 0);
		t.is(withEnv("keys", "add", "--product", "demo", "--pub", join(dir, "keys/release.pub")).status, 0);
		const published = withEnv("publish", "--manifest", join(dir, "release/manifest.xfm"), "--image", join(dir, "release/v2.img"));
		t.is(published.status, 0, published.stderr);
		t.like(JSON.parse(published.stdout), { product: "demo", sequence: 2, version: "2.0.0" });
		const again = withEnv("publish", "--manifest", join(dir, "release/manifest.xfm"), "--image", join(dir, "release/v2.img"));
		t.is(again.status, 1);
		t.regex(again.stderr, /the server refused \(409\): stale-sequence: sequence 2 is not above the product's latest, 2/);
		const badToken = spawnSync(process.execPath, [CLI, "products", "list"], { encoding: "utf8", env: { ...process.env, ...env, XSFOTA_TOKEN: "nope" } });
		t.is(badToken.status, 1);
		t.regex(badToken.stderr, /the server refused \(401\): unauthorized/);
	} finally {
		first.child.kill("SIGTERM");
	}
	t.is(await new Promise((resolve) => first.child.on("exit", resolve)), 0);
	const second = await startServe(["--certs", join(dir, "certs"), "--data", data]);
	try {
		const after = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, ...env, XSFOTA_SERVER: second.url } });
		t.deepEqual(JSON.parse(after("products", "list").stdout), ["demo"]);
		t.like(JSON.parse(after("releases", "list", "--product", "demo").stdout), [{ sequence: 2, version: "2.0.0" }]);
		t.regex(after("devices", "show", "nobody").stderr, /the server refused \(404\)/);
	} finally {
		second.child.kill("SIGTERM");
	}
});

test("serve refuses to start without certificates, with a clear message", (t) => {
	const run = cli("serve", "--certs", join(tmpdir(), "no-such-certs"));
	t.is(run.status, 1);
	t.regex(run.stderr, /server\.pem is missing; run xs-fota init/);
});

test("provision checks the device config before writing it", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-provision-"));
	writeFileSync(join(dir, "bad.json"), JSON.stringify({ deviceId: "d", product: "p", server: "http://insecure", ca: "x", keys: [] }));
	writeFileSync(join(dir, "image.bin"), Buffer.alloc(1000));
	const run = cli("provision", "--flash", join(dir, "flash.bin"), "--config", join(dir, "bad.json"), "--image", join(dir, "image.bin"));
	t.is(run.status, 1);
	t.regex(run.stderr, /server must be an https:\/\/ URL/);
	t.false(existsSync(join(dir, "flash.bin")));
});

test("provision names a missing image instead of crashing, and writes nothing", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-provision-"));
	writeFileSync(join(dir, "device.json"), JSON.stringify({ deviceId: "d", product: "p", server: "https://s.example", ca: "-----BEGIN CERTIFICATE-----\n", keys: [{ keyId: keyIdOf(Buffer.from("ab".repeat(32), "hex")), publicKey: "ab".repeat(32) }] }));
	const run = cli("provision", "--flash", join(dir, "flash.bin"), "--config", join(dir, "device.json"), "--image", join(dir, "missing.img"));
	t.is(run.status, 1);
	t.regex(run.stderr, /cannot read image .*missing\.img: ENOENT/);
	t.false(existsSync(join(dir, "flash.bin")));
});

test("provision refuses a file that is not an image, and makes a lin device from a lin image", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-provision-"));
	writeFileSync(join(dir, "device.json"), JSON.stringify({ deviceId: "d", product: "p", server: "https://s.example", ca: "-----BEGIN CERTIFICATE-----\n", keys: [{ keyId: keyIdOf(Buffer.from("ab".repeat(32), "hex")), publicKey: "ab".repeat(32) }] }));
	writeFileSync(join(dir, "junk.img"), Buffer.alloc(4096, 7));
	const junk = cli("provision", "--flash", join(dir, "junk.flash"), "--config", join(dir, "device.json"), "--image", join(dir, "junk.img"));
	t.is(junk.status, 1);
	t.regex(junk.stderr, /junk\.img is not an xs-fota image \(image: bad magic\)/);
	t.false(existsSync(join(dir, "junk.flash")));
	writeFileSync(join(dir, "v1.img"), buildLinImage(Buffer.concat([Buffer.from("\x7fELF", "latin1"), Buffer.alloc(64)]), "1.0.0"));
	const lin = cli("provision", "--flash", join(dir, "lin.flash"), "--config", join(dir, "device.json"), "--image", join(dir, "v1.img"));
	t.is(lin.status, 0, lin.stderr);
	t.regex(lin.stdout, /a lin image\) in ota_0; run it with xs-fota mcsim/);
	t.is(readImage(readSlotImage(join(dir, "lin.flash"), "ota_0")).kind, "lin");
});
