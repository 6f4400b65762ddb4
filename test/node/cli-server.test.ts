// The CLI's init, serve and provision commands.
import test from "ava";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:https";
import { ROOT } from "./lib/paths.js";
import { keyIdOf } from "../../tools/cli/keys.js";
import { buildLinImage, readImage } from "../../tools/sim/image.js";
import { readSlotImage } from "../../tools/sim/flash.js";

const CLI = join(ROOT, "bin/xs-fota.js");

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

test("serve answers over HTTPS with the dev CA, with Range; stops on SIGTERM", async (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-serve-cli-"));
	t.is(cli("init", "--out", join(dir, "certs")).status, 0);
	const releases = join(dir, "releases");
	spawnSync("mkdir", ["-p", join(releases, "demo")]);
	writeFileSync(join(releases, "demo", "manifest.xfm"), Buffer.from("0123456789"));
	const server = spawn(process.execPath, [CLI, "serve", "--releases", releases, "--certs", join(dir, "certs"), "--port", "0", "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
	try {
		const url = await new Promise<string>((resolve, reject) => {
			server.stdout.on("data", (chunk) => {
				const match = /at (https:\/\/\S+)/.exec(String(chunk));
				if (match)
					resolve(match[1]!);
			});
			server.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
		});
		const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
			request(`${url}/v1/products/demo/manifest`, { ca: readFileSync(join(dir, "certs/ca.pem")), headers: { range: "bytes=2-4" } }, (response) => {
				let text = "";
				response.on("data", (chunk) => { text += chunk; });
				response.on("end", () => resolve({ status: response.statusCode!, text }));
			}).on("error", reject).end();
		});
		t.deepEqual(body, { status: 206, text: "234" });
	} finally {
		server.kill("SIGTERM");
	}
	const code = await new Promise((resolve) => server.on("exit", resolve));
	t.is(code, 0);
});

test("serve refuses to start without certificates, with a clear message", (t) => {
	const run = cli("serve", "--releases", tmpdir(), "--certs", join(tmpdir(), "no-such-certs"));
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
