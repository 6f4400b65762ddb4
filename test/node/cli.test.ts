// The xs-fota CLI end to end: keygen -> sign -> verify, and the failures it must catch.
import test from "ava";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./lib/paths.js";

const BIN = join(ROOT, "bin/xs-fota.js");

function cli(...args: string[]) {
	const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
	return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function setup() {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-cli-"));
	const image = join(dir, "firmware.bin");
	writeFileSync(image, Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 7919) & 0xff)));
	const keygen = cli("keygen", "--out", join(dir, "keys"), "--name", "release");
	const signed = cli("sign", "--key", join(dir, "keys/release.key"), "--image", image, "--product", "xs-fota-devkit",
		"--version", "1.5.0", "--security-version", "3", "--sequence", "12", "--kind", "esp32", "--out", join(dir, "out"));
	return { dir, image, keygen, signed, pub: join(dir, "keys/release.pub"), manifest: join(dir, "out/manifest.xfm"), copy: join(dir, "out/firmware.bin") };
}

test("round trip: keygen, sign and verify pass; the key files are as documented", (t) => {
	const s = setup();
	t.is(s.keygen.status, 0, s.keygen.stderr);
	t.is(s.signed.status, 0, s.signed.stderr);
	t.is(statSync(join(s.dir, "keys/release.key")).mode & 0o777, 0o600);
	const pub = JSON.parse(readFileSync(s.pub, "utf8"));
	t.is(pub.keyId, createHash("sha256").update(Buffer.from(pub.publicKey, "hex")).digest("hex").slice(0, 16));
	t.regex(s.keygen.stdout, new RegExp(`key id ${pub.keyId}`));
	const manifest = readFileSync(s.manifest);
	t.is(manifest.subarray(0, 4).toString(), "XFM2");
	t.deepEqual(readFileSync(s.copy), readFileSync(s.image));
	const verified = cli("verify", "--pub", s.pub, "--manifest", s.manifest, "--image", s.copy);
	t.is(verified.status, 0, verified.stderr);
	t.regex(verified.stdout, /OK: signature by key [0-9a-f]{16}/);
	t.regex(verified.stdout, /product xs-fota-devkit version 1\.5\.0 securityVersion 3 sequence 12/);
	t.regex(verified.stdout, /url firmware\.bin/);
});

test("a tampered image fails: other bytes, and other length", (t) => {
	const s = setup();
	const bytes = readFileSync(s.copy);
	bytes[1234] ^= 1;
	writeFileSync(s.copy, bytes);
	const changed = cli("verify", "--pub", s.pub, "--manifest", s.manifest, "--image", s.copy);
	t.is(changed.status, 1);
	t.regex(changed.stderr, /image rejected: SHA-256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64}/);
	writeFileSync(s.copy, bytes.subarray(1));
	const shorter = cli("verify", "--pub", s.pub, "--manifest", s.manifest, "--image", s.copy);
	t.is(shorter.status, 1);
	t.regex(shorter.stderr, /image rejected: 69999 bytes, the manifest signs 70000/);
});

test("a tampered manifest fails: a changed field, and a truncated file", (t) => {
	const s = setup();
	const bytes = readFileSync(s.manifest);
	const text = bytes.toString("latin1").replace('"sequence":12', '"sequence":99');
	writeFileSync(s.manifest, Buffer.from(text, "latin1"));
	const changed = cli("verify", "--pub", s.pub, "--manifest", s.manifest);
	t.is(changed.status, 1);
	t.regex(changed.stderr, /manifest rejected \(bad-signature\): the signature does not verify/);
	writeFileSync(s.manifest, bytes.subarray(0, bytes.length - 1));
	const truncated = cli("verify", "--pub", s.pub, "--manifest", s.manifest);
	t.is(truncated.status, 1);
	t.regex(truncated.stderr, /manifest rejected \(malformed\)/);
});

test("a wrong key fails: another key pair, and a .pub whose key id was copied onto another key", (t) => {
	const s = setup();
	t.is(cli("keygen", "--out", join(s.dir, "keys"), "--name", "other").status, 0);
	const other = cli("verify", "--pub", join(s.dir, "keys/other.pub"), "--manifest", s.manifest);
	t.is(other.status, 1);
	t.regex(other.stderr, /manifest rejected \(unknown-key\): no trusted key has id [0-9a-f]{16}/);
	const forged = JSON.parse(readFileSync(join(s.dir, "keys/other.pub"), "utf8"));
	forged.keyId = JSON.parse(readFileSync(s.pub, "utf8")).keyId;
	writeFileSync(join(s.dir, "forged.pub"), JSON.stringify(forged));
	const mixed = cli("verify", "--pub", join(s.dir, "forged.pub"), "--manifest", s.manifest);
	t.is(mixed.status, 1);
	t.regex(mixed.stderr, /keyId "[0-9a-f]{16}" does not match the public key/);
	const identity = { keyId: createHash("sha256").update(Buffer.from("01" + "00".repeat(31), "hex")).digest("hex").slice(0, 16), publicKey: "01" + "00".repeat(31) };
	writeFileSync(join(s.dir, "identity.pub"), JSON.stringify(identity));
	const weak = cli("verify", "--pub", join(s.dir, "identity.pub"), "--manifest", s.manifest);
	t.is(weak.status, 1);
	t.regex(weak.stderr, /small order/);
});

test("keygen refuses to overwrite a key", (t) => {
	const s = setup();
	const again = cli("keygen", "--out", join(s.dir, "keys"), "--name", "release");
	t.is(again.status, 1);
	t.regex(again.stderr, /release\.key already exists; refusing to overwrite/);
});

test("bad input: clear messages and non-zero exits; --help works for every command", (t) => {
	const s = setup();
	for (const command of ["keygen", "sign", "verify"]) {
		const help = cli(command, "--help");
		t.is(help.status, 0);
		t.regex(help.stdout, new RegExp(`usage: xs-fota ${command}`));
	}
	t.is(cli("--help").status, 0);
	const base = ["sign", "--key", join(s.dir, "keys/release.key"), "--image", s.image, "--product", "p", "--version", "1.0.0",
		"--security-version", "1", "--sequence", "1", "--kind", "esp32", "--out", join(s.dir, "o2")];
	const cases: [string[], number, RegExp][] = [
		[["frobnicate"], 2, /unknown command "frobnicate"/],
		[["sign", "--key", "k"], 2, /missing --image/],
		[["verify", "--pub", s.pub, "--manifest", s.manifest, "--colour"], 2, /Unknown option '--colour'/],
		[base.map((arg) => (arg === "esp32" ? "esp8266" : arg)), 2, /--kind must be one of esp32, lin, sim, node, not "esp8266"/],
		[base.map((arg, i) => (base[i - 1] === "--sequence" ? "1.5" : arg)), 2, /--sequence must be an integer/],
		[base.map((arg, i) => (base[i - 1] === "--security-version" ? "4294967296" : arg)), 2, /--security-version must be an integer from 0 to 4294967295/],
		[base.map((arg) => (arg === "1.0.0" ? "1.0" : arg)), 2, /invalid manifest \(wrong-type\): version must be a semantic version/],
		[base.map((arg) => (arg === s.image ? join(s.dir, "missing.bin") : arg)), 1, /cannot read image .*missing\.bin: ENOENT/],
		[[...base, "--url", "http://plain.example/fw.bin"], 2, /image\.url must be https:\/\//],
		[["verify", "--pub", s.image, "--manifest", s.manifest], 1, /is not JSON/],
	];
	for (const [args, status, message] of cases) {
		const result = cli(...args);
		t.is(result.status, status, args.join(" "));
		t.regex(result.stderr, message, args.join(" "));
	}
});
