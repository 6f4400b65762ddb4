// The update client end to end over fakes: the happy path, confirmation, and what is rejected.
import test from "ava";
import { Rig, MANIFEST_PATH } from "./lib/rig.js";
import { bytes, envelope, makeKey, manifestBody, signRelease } from "./lib/release.js";

const IMAGE = bytes(100_000, 7);

test("v1 -> v2: downloads, verifies, activates, reboots, passes its trial and is confirmed", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 2 });
	t.is(await rig.check(), "reboot");
	t.deepEqual(rig.slotBytes(1, IMAGE.length), IMAGE);
	t.is(rig.flash.slots[1]!.state, "new");
	for (const type of ["check", "manifest", "verified", "activate", "reboot"])
		t.true(rig.types().includes(type), `no ${type} event`);
	rig.reset("2.0.0");
	t.is(rig.flash.running().state, "pending-verify");
	const outcome = await rig.client().boot();
	t.deepEqual(outcome, { state: "confirmed", version: "2.0.0" });
	t.is(rig.flash.slots[1]!.state, "valid");
	t.is(rig.store.get("secver"), "2", "counters are kept as decimal strings (modules/fota/nvs.ts)");
	t.is(rig.store.get("seq"), "2");
	t.is(rig.store.get("pending"), undefined);
	t.true(rig.watchdog.log.includes("arm 2000") && rig.watchdog.log.at(-1) === "disarm");
	t.like(rig.server.reports.at(-1), { deviceId: "dev-1", version: "2.0.0", state: "valid", securityVersion: 2 });
	const checkAgain = await rig.check();
	t.like(checkAgain, { result: "none", why: "up-to-date" });
});

test("nothing is downloaded when the server has no release", async (t) => {
	const rig = new Rig();
	t.like(await rig.check(), { result: "none", why: "no-release" });
	t.is(rig.flash.writes, 0);
});

async function rejected(t: any, rig: Rig, reason: string) {
	const before = rig.flash.writes + rig.flash.erases;
	const outcome: any = await rig.check();
	t.like(outcome, { result: "rejected", reason });
	t.is(rig.flash.writes + rig.flash.erases, before, "the slot was touched");
	t.is(rig.flash.running().state, "valid");
	t.is(rig.flash.bootIndex, 0);
	t.like(rig.server.reports.at(-1), { state: "rejected", error: reason });
	t.true(rig.events.some((event) => event.type === "reject" && event.reason === reason));
}

test("a forged signature is rejected before any download", async (t) => {
	const rig = new Rig();
	const attacker = makeKey();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	// the attacker's key signs a header and a body that name the trusted key id
	rig.server.put(MANIFEST_PATH, envelope(JSON.stringify(manifestBody(IMAGE, { version: "6.6.6", sequence: 99 }, rig.key)), { ...attacker, keyId: rig.key.keyId }));
	await rejected(t, rig, "bad-signature");
	t.false(rig.server.requests.some((request) => request.url.includes("/images/")));
});

test("a manifest signed by an unknown key is rejected", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 }, makeKey());
	await rejected(t, rig, "unknown-key");
});

test("a manifest for another product is rejected", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, product: "other-board" });
	await rejected(t, rig, "wrong-product");
});

test("a manifest for another kind of image (a lin build for a sim device) is rejected as wrong-kind", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, kind: "lin" });
	await rejected(t, rig, "wrong-kind");
});

test("a lower security version is rejected (anti-rollback)", async (t) => {
	const rig = new Rig();
	rig.store.set("secver", 3);
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, securityVersion: 2 });
	await rejected(t, rig, "security-downgrade");
});

test("a replayed older sequence number is rejected", async (t) => {
	const rig = new Rig();
	rig.store.set("seq", 5);
	rig.publish(IMAGE, { version: "2.0.0", sequence: 4 });
	await rejected(t, rig, "replay");
});

test("an image larger than the slot is rejected without downloading", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, size: 2 * 1024 * 1024 });
	await rejected(t, rig, "too-large");
});

test("an expired manifest is rejected when the clock is known", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, expires: Math.floor(Date.UTC(2026, 0, 1) / 1000) });
	await rejected(t, rig, "expired");
});

test("an oversized manifest is refused before it is parsed", async (t) => {
	const rig = new Rig();
	rig.server.put(MANIFEST_PATH, bytes(5000, 3));
	await rejected(t, rig, "oversized");
});

test("a truncated image is rejected and not activated; it is fetched again from zero, and given up after three bad transfers", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	rig.server.put("/v1/products/demo-board/images/2.0.0.bin", IMAGE.subarray(0, 60_000));
	for (let count = 1; count <= 3; count++) {
		t.like(await rig.check(), { result: "rejected", reason: "size-mismatch" });
		t.is(rig.flash.bootIndex, 0);
		t.is(rig.store.get("failseq"), count < 3 ? undefined : "2", `after ${count} bad transfers`);
	}
	t.truthy(rig.events.find((event) => event.type === "skip" && event.reason === "bad-transfers" && event.count === 3));
	const requests = rig.server.requests.length;
	t.like(await rig.check(), { result: "none", why: "previously-failed" });
	t.false(rig.server.requests.slice(requests).some((request) => request.url.includes("/images/")));
});

/** The server's copy of 2.0.0 with one byte flipped: a bad transfer of a genuine release. */
function serveFlipped(rig: Rig): void {
	const evil = IMAGE.slice();
	evil[54_321]! ^= 0x01;
	rig.server.put("/v1/products/demo-board/images/2.0.0.bin", evil);
}

// Issue 9, defect 6 (bad transfers): one bad copy on the server must not cost a genuine release for ever.
test("after one bad transfer, the release is fetched again from zero and installed once the server's copy is right", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	serveFlipped(rig);
	t.like(await rig.check(), { result: "rejected", reason: "digest-mismatch" });
	t.truthy(rig.events.find((event) => event.type === "retry-later" && event.count === 1 && event.max === 3));
	t.is(rig.store.get("failseq"), undefined);
	t.like(rig.server.reports.at(-1), { state: "rejected", error: "digest-mismatch" }, "the true reason is reported");
	rig.server.put("/v1/products/demo-board/images/2.0.0.bin", IMAGE);
	const sent = rig.server.imageBytes;
	t.is(await rig.check(), "reboot");
	t.is(rig.server.imageBytes - sent, IMAGE.length, "the second transfer did not start from zero");
	t.deepEqual(rig.slotBytes(1, IMAGE.length), IMAGE);
	t.is(rig.store.get("badxfer"), undefined);
});

test("an image with one byte flipped fails the digest check and is never activated", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	serveFlipped(rig);
	t.like(await rig.check(), { result: "rejected", reason: "digest-mismatch" });
	t.is(rig.flash.bootIndex, 0);
	t.is(rig.flash.slots[1]!.state, "undefined");
	t.is(rig.store.get("download"), undefined);
	rig.reset();
	t.is(rig.flash.runningIndex, 0);
});

test("a server error with Retry-After is an error to retry later, no sooner", async (t) => {
	const rig = new Rig();
	rig.server.faults.manifestStatus = { status: 503, headers: { "retry-after": "120" } };
	t.like(await rig.check(), { result: "error", retryAfterMs: 120000 });
});

test("an unreachable server is an error, and nothing is written", async (t) => {
	const rig = new Rig();
	rig.server.faults.unreachable = true;
	t.like(await rig.check(), { result: "error" });
	t.is(rig.flash.writes, 0);
});

test("a vendor-signed release of an older version with a newer sequence is allowed (signed downgrade)", async (t) => {
	const rig = new Rig();
	rig.version = "3.0.0";
	rig.publish(IMAGE, { version: "2.9.0", sequence: 7 });
	t.is(await rig.check(), "reboot");
});

test("the manifest envelope is checked over its exact bytes: a re-serialized body fails", async (t) => {
	const rig = new Rig();
	const signed = signRelease(IMAGE, { version: "2.0.0", sequence: 2 }, rig.key);
	const spaced = signed.slice();
	spaced[20] = 0x20; // one byte of the signed body changed after signing
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	rig.server.put(MANIFEST_PATH, spaced);
	const outcome: any = await rig.check();
	t.is(outcome.result, "rejected");
	t.is(outcome.reason, "bad-signature", "the body was read before the signature was checked");
});

// Issue 9, defect 5: a cut or empty response is a failed transfer with back-off, never a rejected manifest.
for (const [what, headers, body] of [
	["an empty 200 (headers cut, as libcurl reports it)", {}, new Uint8Array(0)],
	["a body shorter than its Content-Length", { "content-length": "300" }, new Uint8Array(100).fill(0x58)],
] as const) {
	test(`${what} is transient, with back-off, and no rejection is reported`, async (t) => {
		const rig = new Rig();
		rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
		const real = rig.server.request.bind(rig.server);
		rig.server.request = (request, sink) => {
			if (!request.url.includes("/manifest"))
				return real(request, sink);
			sink.response(200, { ...headers });
			if (body.length)
				sink.data(body);
			sink.done();
			return { abort() {} };
		};
		const outcome: any = await rig.check();
		t.is(outcome.result, "error");
		t.false(rig.server.reports.some((report: any) => report.state === "rejected"), "a cut transfer was reported as a rejected manifest");
		t.false(rig.events.some((event) => event.type === "rejected"));
		rig.server.request = real;
		t.is(await rig.check(), "reboot", "the update completes once the server behaves");
	});
}

test("every manifest request names the running version (the server knows the device from its first check)", async (t) => {
	const rig = new Rig();
	rig.publish(bytes(20_000, 4), { version: "2.0.0", sequence: 2 });
	t.is(await rig.check(), "reboot");
	const manifests = rig.server.requests.filter((request) => request.url.includes("/manifest"));
	t.true(manifests.length >= 1);
	t.true(manifests.every((request) => request.headers["x-fota-version"] === "1.0.0"), JSON.stringify(manifests));
});

test("polling: a server's Retry-After sets the next check, every time, without the device's own back-off on top", async (t) => {
	const rig = new Rig({ pollSeconds: 600, jitter: 0.01 });
	rig.publish(bytes(20_000, 4), { version: "2.0.0", sequence: 2 });
	rig.server.faults.imageBusySeconds = 7;
	const client = rig.client();
	client.start();
	t.teardown(() => client.stop());
	const deadline = Date.now() + 10_000;
	while (rig.events.filter((event) => event.type === "next-check").length < 5 && Date.now() < deadline)
		await new Promise((resolve) => setTimeout(resolve, 10));
	client.stop();
	const delays = rig.events.filter((event) => event.type === "next-check").map((event) => event.inMs);
	t.deepEqual(delays.slice(1, 5), [7000, 7000, 7000, 7000], `the checks after each 503: ${delays.join(", ")}`);
});

test("a server at its download limit (503 with Retry-After) is asked again when it says, not sooner", async (t) => {
	const rig = new Rig();
	rig.publish(bytes(20_000, 4), { version: "2.0.0", sequence: 2 });
	rig.server.faults.imageBusySeconds = 40;
	const outcome: any = await rig.check();
	t.like(outcome, { result: "error", retryAfterMs: 40_000 });
	t.regex(outcome.detail, /HTTP 503 for the image/);
	t.is(rig.server.requests.filter((request) => request.url.includes("/images/")).length, 1, "asked again within the round");
	t.false(rig.types().includes("reject"));
	rig.server.faults.imageBusySeconds = undefined;
	t.is(await rig.check(), "reboot");
});
