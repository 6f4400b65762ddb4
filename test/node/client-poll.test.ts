// Tiny idle polls, on the client: the manifest request names the ETag of the last manifest judged for good in the
// state the device is still in, and a 304 never stands for a manifest the device has not seen. Over the fakes, with a
// transport in front of the fake server that answers If-None-Match as the real server does (tools/server/server.ts).
import test from "ava";
import { Rig, MANIFEST_PATH } from "./lib/rig.js";
import { bytes, envelope, makeKey, manifestBody } from "./lib/release.js";
import type { HttpRequest, ResponseSink, Transport } from "../../modules/fota/ports.js";
import type { FakeServer } from "./fakes/server.js";
import type { LoadedConfig } from "../../modules/fota/config-store.js";

const IMAGE = bytes(50_000, 11);
const JUDGED = "mfjudged";

/** The fake server with conditional manifests: 304 (with the path's extra headers and the ETag) when If-None-Match
 * is the manifest's ETag; everything else goes to the fake server as it is. */
class Conditional implements Transport {
	notModified = 0;
	constructor(readonly server: FakeServer) {}
	request(request: HttpRequest, sink: ResponseSink): { abort(): void } {
		const path = request.url.replace(/^https:\/\/[^/]+/, "").split("?")[0]!;
		const asked = (request.headers ?? []).find(([name]) => name.toLowerCase() === "if-none-match")?.[1];
		const file = this.server.files.get(path);
		if (!path.endsWith("/manifest") || asked === undefined || file === undefined || asked !== file.etag)
			return this.server.request(request, sink);
		this.notModified++;
		this.server.requests.push({ url: request.url, headers: Object.fromEntries((request.headers ?? []).map(([k, v]) => [k.toLowerCase(), v])) });
		queueMicrotask(() => {
			sink.response(304, { ...this.server.headers.get(path), etag: file.etag });
			sink.done();
		});
		return { abort() {} };
	}
}

function conditionalRig(overrides: Record<string, unknown> = {}): { rig: Rig; transport: Conditional; check: (options?: Parameters<Rig["client"]>[0]) => Promise<any> } {
	const rig = new Rig(overrides);
	const transport = new Conditional(rig.server);
	return { rig, transport, check: (options = {}) => rig.check(rig.client({ ports: rig.ports({ transport }), ...options })) };
}

/** The If-None-Match of the last manifest request. */
function lastAsked(rig: Rig): string | undefined {
	return rig.server.requests.filter((request) => request.url.includes("/manifest")).at(-1)!.headers["if-none-match"];
}

test("an up-to-date device asks conditionally; a 304 is 'not-modified'; a new release between polls is fetched whole and taken", async (t) => {
	const { rig, transport, check } = conditionalRig();
	rig.publish(IMAGE, { version: "1.0.0", sequence: 1 });
	t.like(await check(), { result: "none", why: "up-to-date" });
	t.is(lastAsked(rig), undefined, "the first request is unconditional: nothing was judged");
	const etag = rig.server.files.get(MANIFEST_PATH)!.etag;
	t.is(JSON.parse(rig.store.get(JUDGED) as string).etag, etag);
	t.like(await check(), { result: "none", why: "not-modified" });
	t.is(lastAsked(rig), etag);
	t.is(transport.notModified, 1);
	t.is(rig.server.reports.length, 0, "nothing to report: nothing happened");
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	t.is(await check(), "reboot", "the new release is taken");
	t.is(lastAsked(rig), etag, "asked about the old manifest");
	t.is(transport.notModified, 1, "answered whole: the manifest changed");
	t.deepEqual(rig.slotBytes(1, IMAGE.length), IMAGE);
});

test("a power cut between a new manifest's arrival and its judgement leaves no ETag: the next request is unconditional", async (t) => {
	const { rig, check } = conditionalRig();
	rig.publish(IMAGE, { version: "1.0.0", sequence: 1 });
	await check();
	t.truthy(rig.store.get(JUDGED));
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	// the power goes once the new manifest is verified, before it is judged (the fakes' stand-in: an error escapes the
	// "manifest" event, which comes between the two)
	const cut = rig.client({ ports: rig.ports({ transport: new Conditional(rig.server), events: (type) => {
		if (type === "manifest")
			throw new Error("power cut");
	} }) });
	t.like(await cut.check(), { result: "error", detail: "power cut" });
	t.is(rig.store.get(JUDGED), undefined, "the old judgement went when a different manifest arrived");
	t.is(await check(), "reboot");
	t.is(lastAsked(rig), undefined);
});

test("a manifest deferred by the maintenance window is fetched whole again, and taken once the window opens", async (t) => {
	const { rig, transport, check } = conditionalRig({ window: { start: "02:00", end: "04:00" } });
	rig.publish(IMAGE, { version: "1.0.0", sequence: 1 });
	t.like(await check(), { result: "none", why: "up-to-date" });
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	rig.clock.wallMs = Date.UTC(2026, 10, 24, 12, 0);
	for (let i = 0; i < 2; i++) {
		t.like(await check(), { result: "deferred", reason: "outside-window" });
		t.is(rig.store.get(JUDGED), undefined);
	}
	t.is(lastAsked(rig), undefined, "a deferred manifest is not a judged one");
	t.is(transport.notModified, 0);
	rig.clock.wallMs = Date.UTC(2026, 10, 25, 2, 30);
	t.is(await check(), "reboot");
});

test("a download that fails part way records nothing: the next poll fetches the manifest whole", async (t) => {
	const { rig, transport, check } = conditionalRig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	rig.server.put("/v1/products/demo-board/images/2.0.0.bin", IMAGE.subarray(0, 20_000)); // a bad transfer
	t.like(await check(), { result: "rejected", reason: "size-mismatch" });
	t.is(rig.store.get(JUDGED), undefined);
	rig.server.put("/v1/products/demo-board/images/2.0.0.bin", IMAGE);
	t.is(await check(), "reboot");
	t.is(lastAsked(rig), undefined);
	t.is(transport.notModified, 0);
});

test("a manifest rejected for good is not reported again: the next poll gets a 304", async (t) => {
	const { rig, check } = conditionalRig();
	const attacker = makeKey();
	rig.server.put(MANIFEST_PATH, envelope(JSON.stringify(manifestBody(IMAGE, { version: "6.6.6", sequence: 99 }, rig.key)), { ...attacker, keyId: rig.key.keyId }));
	t.like(await check(), { result: "rejected", reason: "bad-signature" });
	t.is(rig.server.reports.length, 1);
	t.like(await check(), { result: "none", why: "not-modified" });
	t.is(rig.server.reports.length, 1);
});

test("version, counters, keys and config: each change drops the condition", async (t) => {
	const { rig, check } = conditionalRig();
	rig.store.set("seq", "1"); // the release's sequence runs here: up to date whatever the version says
	rig.publish(IMAGE, { version: "1.0.0", sequence: 1 });
	const settle = async () => {
		await check();
		await check();
		t.truthy(lastAsked(rig), "conditional again once judged in the new state");
	};
	await settle();

	rig.version = "1.0.1";
	await check();
	t.is(lastAsked(rig), undefined, "the running version changed");
	await settle();

	rig.store.set("failseq", "7");
	await check();
	t.is(lastAsked(rig), undefined, "the failed sequence changed");
	await settle();

	rig.store.set("secver", "1");
	await check();
	t.is(lastAsked(rig), undefined, "the security version changed");
	await settle();

	const other = makeKey();
	rig.config = { ...rig.config, keys: [...rig.config.keys, { keyId: other.keyId, publicKey: other.publicKey }] };
	await check();
	t.is(lastAsked(rig), undefined, "the trusted keys changed");
	await settle();

	const loaded = (sequence: number) => ({ config: rig.config, raw: {}, body: {}, sequence, source: "working", area: "working-1", count: sequence,
		trial: false, damaged: [] }) as unknown as LoadedConfig;
	await check({ loaded: loaded(3) });
	t.is(lastAsked(rig), undefined, "the config sequence changed");
	await check({ loaded: loaded(3) });
	t.truthy(lastAsked(rig));
	await check({ loaded: loaded(4) });
	t.is(lastAsked(rig), undefined, "the config sequence changed again");
});

test("a refusal because the verifier failed (not the signature) records nothing: the manifest is judged again", async (t) => {
	const { rig, transport, check } = conditionalRig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	const failing = rig.client({ ports: rig.ports({ transport, verifier: { verify() { throw new Error("no memory"); } } }) });
	t.like(await failing.check(), { result: "rejected", reason: "bad-signature" });
	t.is(rig.store.get(JUDGED), undefined);
	t.is(await check(), "reboot");
	t.is(lastAsked(rig), undefined);
});

test("an expired manifest is judged again at every poll: a clock that was wrong may be set right", async (t) => {
	const { rig, transport, check } = conditionalRig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2, expires: Math.floor(Date.UTC(2026, 0, 1) / 1000) });
	rig.clock.wallMs = Date.UTC(2030, 0, 1); // a clock years ahead
	t.like(await check(), { result: "rejected", reason: "expired" });
	t.is(rig.store.get(JUDGED), undefined);
	rig.clock.wallMs = Date.UTC(2025, 5, 1);
	t.is(await check(), "reboot");
	t.is(lastAsked(rig), undefined);
	t.is(transport.notModified, 0);
});

test("a 304 to an unconditional request, or naming another ETag, is a transient error, not 'up to date'", async (t) => {
	const rig = new Rig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	rig.server.faults.manifestStatus = { status: 304, headers: { etag: "\"v1\"" } };
	const outcome: any = await rig.check();
	t.is(outcome.result, "error");
	t.regex(outcome.detail, /304.*unconditionally/);
	t.is(rig.store.get(JUDGED), undefined);

	// judged once, then a 304 that names another ETag than the one asked about
	rig.server.faults.manifestStatus = undefined;
	rig.publish(IMAGE, { version: "1.0.0", sequence: 1 });
	t.like(await rig.check(), { result: "none", why: "up-to-date" });
	rig.server.faults.manifestStatus = { status: 304, headers: { etag: "\"something-else\"" } };
	const other: any = await rig.check();
	t.is(other.result, "error");
	t.regex(other.detail, /304.*names ETag/);
});

test("the config hint on a 304 is read as on a 200", async (t) => {
	const { rig, check } = conditionalRig();
	rig.publish(IMAGE, { version: "1.0.0", sequence: 1 });
	const loaded = { config: rig.config, raw: {}, body: {}, sequence: 2, source: "working", area: "working-1", count: 2, trial: false, damaged: [] } as unknown as LoadedConfig;
	await check({ loaded });
	rig.server.headers.set(MANIFEST_PATH, { "x-fota-config-pending": "5" });
	t.like(await check({ loaded }), { result: "none", why: "not-modified" });
	t.truthy(lastAsked(rig));
	// no config flash in this rig: the client says it cannot take the document the hint named
	t.like(rig.events.at(-2), { type: "config-unsupported", sequence: 5 });
});

test("the new image's trial checks the server with an unconditional request (it verifies a manifest)", async (t) => {
	const { rig, check } = conditionalRig();
	rig.publish(IMAGE, { version: "2.0.0", sequence: 2 });
	t.is(await check(), "reboot");
	rig.reset("2.0.0");
	t.like(await rig.client({ ports: rig.ports({ transport: new Conditional(rig.server) }) }).boot(), { state: "confirmed" });
	t.is(lastAsked(rig), undefined);
	t.like(await check(), { result: "none", why: "up-to-date" });
	t.like(await check(), { result: "none", why: "not-modified" });
});
