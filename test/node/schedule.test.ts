// Poll timing, config validation and URL joining: the small pure parts of the client.
import test from "ava";
import { nextDelay, retryAfter } from "../../modules/fota/schedule.js";
import { parseDeviceConfig as parse } from "../../modules/fota/config.js";
import { keyIdOf, nodeSha256 } from "../../tools/cli/keys.js";

const parseDeviceConfig = (raw: unknown) => parse(raw, nodeSha256);
import { resolveUrl } from "../../modules/fota/url.js";
import { checkWindow } from "../../modules/fota/policy.js";
import { CA } from "./lib/rig.js";

const config = { pollSeconds: 600, jitter: 0.2, backoffSeconds: 10, maxBackoffSeconds: 3600 };

test("polls every interval, spread by the jitter", (t) => {
	t.is(nextDelay(config, 0, 0), 480_000);
	t.is(nextDelay(config, 0, 0.5), 600_000);
	t.true(nextDelay(config, 0, 0.999) < 720_000);
});

test("backs off exponentially after errors, capped, and never below Retry-After", (t) => {
	const max = (failures: number) => nextDelay(config, failures, 0.9999);
	t.true(max(1) <= 10_000 && nextDelay(config, 1, 0) === 5_000);
	t.true(max(2) <= 20_000 && max(2) > 10_000);
	t.true(max(5) <= 160_000 && max(5) > 80_000);
	t.true(max(30) <= 3_600_000 && max(30) > 1_800_000);
	t.is(nextDelay(config, 1, 0, 300_000), 300_000);
});

test("Retry-After in seconds or as an HTTP date", (t) => {
	t.is(retryAfter("120", undefined), 120_000);
	t.is(retryAfter("Tue, 24 Nov 2026 12:01:00 GMT", Date.UTC(2026, 10, 24, 12, 0)), 60_000);
	t.is(retryAfter("Tue, 24 Nov 2026 12:01:00 GMT", undefined), 0);
	t.is(retryAfter("soon", 0), 0);
});

test("maintenance windows, including one across midnight", (t) => {
	const at = (h: number, m: number) => Date.UTC(2026, 0, 1, h, m);
	t.true(checkWindow({ start: "22:00", end: "02:00" }, at(23, 0), "defer").open);
	t.true(checkWindow({ start: "22:00", end: "02:00" }, at(1, 59), "defer").open);
	const closed = checkWindow({ start: "22:00", end: "02:00" }, at(21, 0), "defer");
	t.like(closed, { open: false, reason: "outside-window", waitMs: 3_600_000 });
});

test("the device config is validated with clear errors", (t) => {
	const good = { deviceId: "d", product: "p", server: "https://s.example/", ca: CA, keys: [{ keyId: keyIdOf(Buffer.from("ab".repeat(32), "hex")), publicKey: "ab".repeat(32) }] };
	t.is(parseDeviceConfig(good).server, "https://s.example");
	t.throws(() => parseDeviceConfig({ ...good, server: "http://s.example" }), { message: /server must be an https:\/\/ URL/ });
	t.throws(() => parseDeviceConfig({ ...good, keys: [] }), { message: /at least one trusted key/ });
	t.throws(() => parseDeviceConfig({ ...good, keys: [{ keyId: "xyz", publicKey: "ab" }] }), { message: /keyId/ });
	t.throws(() => parseDeviceConfig({ ...good, chunkBytes: 5000 }), { message: /multiple of 4096/ });
	t.throws(() => parseDeviceConfig({ ...good, ca: "not pem" }), { message: /PEM/ });
	t.throws(() => parseDeviceConfig({ ...good, window: { start: "25:00", end: "01:00" } }), { message: /window/ });
});

test("issue 9, defect 10: a key id must be derived from its key, and unique", (t) => {
	const key = (hex: string) => ({ keyId: keyIdOf(Buffer.from(hex, "hex")), publicKey: hex });
	const base = { deviceId: "d", product: "p", server: "https://s.example", ca: CA };
	const a = key("ab".repeat(32)), b = key("cd".repeat(32));
	t.is(parseDeviceConfig({ ...base, keys: [a, b] }).keys.length, 2);
	t.throws(() => parseDeviceConfig({ ...base, keys: [{ keyId: b.keyId, publicKey: a.publicKey }] }),
		{ message: new RegExp(`keys\\[0\\]\\.keyId ${b.keyId} is not the id of its key \\(${a.keyId}\\)`) });
	t.throws(() => parseDeviceConfig({ ...base, keys: [a, b, a] }), { message: new RegExp(`keys\\[2\\] repeats key ${a.keyId}`) });
});

test("image URLs resolve against the manifest URL; only https", (t) => {
	const base = "https://s.example:8443/v1/products/p/manifest?device=d";
	t.is(resolveUrl(base, "images/2.bin"), "https://s.example:8443/v1/products/p/images/2.bin");
	t.is(resolveUrl(base, "../../files/2.bin"), "https://s.example:8443/v1/files/2.bin");
	t.is(resolveUrl(base, "/x/2.bin"), "https://s.example:8443/x/2.bin");
	t.is(resolveUrl(base, "https://cdn.example/2.bin"), "https://cdn.example/2.bin");
	t.throws(() => resolveUrl(base, "http://cdn.example/2.bin"), { message: /only https/ });
	t.throws(() => resolveUrl(base, "//cdn.example/2.bin"));
});
