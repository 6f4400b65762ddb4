// The client's config path over fakes of every port (the same code the devices run): a document taken on the
// server's hint, tried under the supervisor, kept or rolled back with its reason reported through the config that
// comes back; refusals that change nothing; restore after both working copies are lost; key rotation; and a seeded
// power-cut campaign over config writes and trials.
import test from "ava";
import { FotaClient } from "../../modules/fota/client.js";
import { encodeRecord, loadConfig, BODY_SCHEMA, type LoadedConfig } from "../../modules/fota/config-store.js";
import { Records } from "../../modules/fota/records.js";
import { CONFIG_PENDING_HEADER, configPath } from "../../modules/fota/protocol.js";
import { nodeSha256 } from "../../tools/cli/keys.js";
import { FakeFlash, Reboot } from "./fakes/flash.js";
import { FakeServer } from "./fakes/server.js";
import { FakeWatchdog, FastClock, nodeVerifier } from "./fakes/device.js";
import { FakeConfigFlash, PowerClock, PowerCut, PowerStore } from "./fakes/config-flash.js";
import { configKey, docBody, factory, firmwareKey, sealConfig, trusted } from "./lib/config.js";
import { envelope, makeKey, type SigningKey } from "./lib/release.js";
import type { SelfTestCheck } from "../../modules/fota/selftest.js";
import type { ResetCause } from "../../modules/fota/ports.js";

const MANIFEST = "/v1/products/demo-board/manifest";
const CONFIG = configPath("dev-1");

/** One device: its flash, config flash and store (the last two cut by one power clock), and a fake server. */
class Device {
	readonly power: PowerClock;
	readonly configFlash: FakeConfigFlash;
	readonly store: PowerStore;
	readonly flash = new FakeFlash();
	readonly server = new FakeServer();
	readonly clock = new FastClock();
	readonly watchdog = new FakeWatchdog();
	events: { type: string; [field: string]: unknown }[] = [];
	/** the app's checks, given the config it runs */
	appChecks: (loaded: LoadedConfig) => SelfTestCheck[] = () => [];

	constructor(seed = 1, raw = factory(), areaBytes = 8192) {
		this.power = new PowerClock(seed);
		this.configFlash = new FakeConfigFlash(this.power, areaBytes);
		this.store = new PowerStore(this.power);
		this.configFlash.poke("factory", encodeRecord("good", 0, { schema: BODY_SCHEMA, sequence: 0, config: raw }));
		this.server.hosts = ["updates.test", "updates2.test"];
	}
	loaded(): LoadedConfig {
		const loaded = loadConfig(this.configFlash, new Records(this.store), nodeSha256);
		if (!loaded)
			throw new Error("no config");
		return loaded;
	}
	client(): FotaClient {
		const loaded = this.loaded();
		return new FotaClient({
			config: loaded.config, loaded, sha256: nodeSha256,
			ports: { transport: this.server, flash: this.flash, verifier: nodeVerifier, watchdog: this.watchdog, store: this.store,
				clock: this.clock, events: (type, fields) => this.events.push({ type, ...fields }), configFlash: this.configFlash },
			firmware: { version: "1.0.0", kind: "sim" },
			selfTest: this.appChecks(loaded),
			watchdogMs: 2000,
		});
	}
	/** The server holds this document for the device, and says so on every manifest answer. */
	offer(doc: Uint8Array, sequence: number): void {
		this.server.put(CONFIG, doc);
		this.server.headers.set(MANIFEST, { [CONFIG_PENDING_HEADER]: String(sequence) });
	}
	/** A start: boot, then one check. What ended it: a reboot (a document taken, a trial rolled back, an image
	 * activated), a power cut, or the check's outcome. */
	async start(): Promise<string> {
		try {
			await this.client().boot();
			const outcome = await this.client().check();
			return outcome.result;
		}
		catch (error) {
			if (error instanceof Reboot)
				return "reboot";
			if (error instanceof PowerCut)
				return "cut";
			throw error;
		}
	}
	reset(cause: ResetCause): void {
		this.flash.boot(cause);
	}
	/** Starts until a start ends without a reboot or a cut (at most `max`); returns what each start ended with. */
	async settle(max = 12, check?: (loaded: LoadedConfig) => void): Promise<string[]> {
		const ends: string[] = [];
		for (let i = 0; i < max; i++) {
			check?.(this.loaded());
			const end = await this.start();
			ends.push(end);
			if (end !== "reboot" && end !== "cut")
				return ends;
			this.reset(end === "cut" ? "power-on" : "software");
		}
		throw new Error(`no end after ${max} starts: ${ends.join(", ")}; events: ${this.events.slice(-12).map((e) => e.type).join(" ")}`);
	}
	types(): string[] {
		return this.events.map((event) => event.type);
	}
	configReports(): any[] {
		return this.server.reports.filter((report) => String(report.state).startsWith("config-"));
	}
}

test("a document that passes its trial is kept: the device runs it from a working copy and reports config-valid", async (t) => {
	const device = new Device();
	device.offer(sealConfig(docBody(5, { pollSeconds: 30, app: { mode: "eco" } })), 5);
	t.deepEqual(await device.settle(), ["reboot", "none"]);
	const loaded = device.loaded();
	t.like(loaded, { source: "working", sequence: 5, trial: false });
	t.like(loaded.config, { pollSeconds: 30, app: { mode: "eco" }, deviceId: "dev-1" });
	t.deepEqual(device.configReports().map((r) => [r.state, r.configTarget]), [["config-trying", 5], ["config-valid", 5]]);
	const valid = device.configReports()[1];
	t.like(valid.config, { sha256: loaded.config.digest, sequence: 5, source: "working", fields: { pollSeconds: 30 } });
	t.true(device.types().includes("config-selftest"));
	// the next manifest request names the document the device runs
	t.is(device.server.requests.filter((r) => r.url.includes("/manifest")).at(-1)!.headers["x-fota-config"], "5");
});

test("a document pointing at a server the device cannot reach is rolled back; the reason reaches the old server", async (t) => {
	const device = new Device();
	device.offer(sealConfig(docBody(6, { server: "https://nowhere.test" })), 6);
	t.deepEqual(await device.settle(), ["reboot", "reboot", "none"]);
	t.like(device.loaded(), { source: "factory", sequence: 0 });
	t.is(device.loaded().config.server, "https://updates.test");
	const last = device.configReports().at(-1);
	t.like(last, { state: "config-rolled-back", configTarget: 6, config: { sequence: 0, fields: { server: "https://updates.test" } } });
	t.regex(last.error, /^config-selftest-failed: update-server: .*nowhere\.test/);
	t.true(device.types().includes("config-rollback"));
	// not tried again: the server still offers it, the device does not take it
	t.is(await device.start(), "none");
	t.is(device.events.filter((e) => e.type === "config-activate").length, 1);
});

test("a document the app's own checks fail is rolled back with the check's reason", async (t) => {
	const device = new Device();
	device.appChecks = (loaded) => [{ name: "sensor", run: () => {
		if (typeof loaded.config.app.sensorMax === "number" && loaded.config.app.sensorMax < 21.5)
			throw new Error(`reads 21.5, above ${loaded.config.app.sensorMax}`);
	} }];
	device.offer(sealConfig(docBody(7, { app: { sensorMax: 10 } })), 7);
	await device.settle();
	t.like(device.configReports().at(-1), { state: "config-rolled-back", configTarget: 7, error: "config-selftest-failed: sensor: reads 21.5, above 10" });
	t.deepEqual(device.loaded().config.app, {});
});

test("a reset during the trial (a crash or the watchdog) rolls the config back for good; a power loss tries it again", async (t) => {
	for (const [cause, state, retried] of [["watchdog", "config-rolled-back", false], ["power-on", "config-interrupted", true]] as const) {
		const device = new Device();
		device.offer(sealConfig(docBody(8, { pollSeconds: 20 })), 8);
		t.is(await device.start(), "reboot", "the trial copy is written, then the device restarts into its trial");
		device.reset("software");
		// the trial began (its record says so) and the device reset before a verdict: what a hang under the
		// watchdog, a crash or a power cut in the middle of the trial leaves behind
		const loaded = device.loaded();
		t.true(loaded.trial);
		new Records(device.store).configTrial = { sequence: 8, count: loaded.count, stage: "selftest" };
		device.reset(cause);
		t.is(await device.start(), "reboot", "the next start rolls the trial copy back");
		device.reset("software");
		const ends = await device.settle();
		const states = device.configReports().map((r) => r.state);
		t.true(states.includes(state), `${cause}: ${states.join(" ")}`);
		t.is(device.loaded().sequence, retried ? 8 : 0, cause);
		t.deepEqual(ends, retried ? ["reboot", "none"] : ["none"], cause);
	}
});

test("a config whose trial the power cuts short at every start is given up after 3 retries, and says why", async (t) => {
	const device = new Device();
	device.offer(sealConfig(docBody(8, { pollSeconds: 20 })), 8);
	for (let round = 1; round <= 4; round++) {
		t.is(await device.start(), "reboot", `round ${round}: the trial copy written`);
		device.reset("software");
		const loaded = device.loaded();
		t.true(loaded.trial, `round ${round}`);
		new Records(device.store).configTrial = { sequence: 8, count: loaded.count, stage: "selftest" };
		device.reset("brownout");
		t.is(await device.start(), "reboot", `round ${round}: rolled back`);
		device.reset("software");
	}
	t.deepEqual(await device.settle(), ["none"]);
	const states = device.configReports().filter((r) => r.state !== "config-trying").map((r) => `${r.state}: ${r.error}`);
	t.deepEqual(states, [...Array(3).fill("config-interrupted: power-loss-in-config-trial"),
		"config-rolled-back: interrupted-too-often: power-loss-in-config-trial 4 times"]);
	t.is(device.loaded().sequence, 0);
});

test("refused documents change nothing: no copy written, the reason reported", async (t) => {
	const other = makeKey();
	const cases: [string, Uint8Array, number][] = [
		["bad-signature", sealConfig(docBody(9), { ...configKey, privateKey: other.privateKey }), 9],
		["wrong-key-role", sealConfig(docBody(9), firmwareKey), 9],
		["secret-field", sealConfig(docBody(9, { clientKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" })), 9],
	];
	for (const [reason, doc, sequence] of cases) {
		const device = new Device();
		device.offer(doc, sequence);
		t.deepEqual(await device.settle(), ["rejected"], reason);
		t.is(device.configFlash.writes + device.configFlash.erases, 0, reason);
		t.like(device.configReports().at(-1), { state: "config-rejected", configTarget: sequence, error: reason });
	}
	// a replay: the device runs 5; an old document 4 is offered under a forged hint
	const device = new Device();
	device.offer(sealConfig(docBody(5, { pollSeconds: 30 })), 5);
	await device.settle();
	const writes = device.configFlash.writes;
	device.offer(sealConfig(docBody(4, { pollSeconds: 99 })), 6);
	t.deepEqual(await device.settle(), ["rejected"]);
	t.like(device.configReports().at(-1), { state: "config-rejected", configTarget: 4, error: "replay" });
	t.is(device.configFlash.writes, writes);
	t.is(device.loaded().config.pollSeconds, 30);
});

test("a document whose record does not fit the config area is refused, and the config in use is untouched", async (t) => {
	const device = new Device(1, factory(), 2048);
	device.offer(sealConfig(docBody(5, { app: { note: "x".repeat(1800) } })), 5);
	t.deepEqual(await device.settle(), ["rejected"]);
	const refused = device.configReports().at(-1);
	t.like(refused, { state: "config-rejected", configTarget: 5, error: "oversized" });
	t.regex(String(device.events.find((e) => e.type === "config-reject")?.detail), /^write the trial copy of config 5: .*do not fit 2048/);
	t.is(device.configFlash.erases + device.configFlash.writes, 0);
	t.like(device.loaded(), { source: "factory", sequence: 0 });
});

test("both working copies destroyed: the factory copy serves, the report says so, and the server's document restores it", async (t) => {
	const device = new Device();
	const doc = sealConfig(docBody(5, { pollSeconds: 30 }));
	device.offer(doc, 5);
	await device.settle();
	device.offer(sealConfig(docBody(6, { pollSeconds: 25 })), 6);
	await device.settle();
	t.like(device.loaded(), { sequence: 6, area: "working-2" });
	device.configFlash.areas["working-1"].fill(0x00, 0, 64);
	device.configFlash.areas["working-2"].fill(0x00, 0, 64);
	device.reset("power-on");
	const lost = device.loaded();
	t.like(lost, { source: "factory", sequence: 0 });
	// the server answers the factory report with the last good document again
	device.server.reports.length = 0;
	t.deepEqual(await device.settle(), ["reboot", "none"]);
	const first = device.server.reports[0];
	t.like(first.config, { source: "factory", sequence: 0, lost: ["working-1", "working-2"] });
	t.like(device.loaded(), { source: "working", sequence: 6 });
	t.is(device.loaded().config.pollSeconds, 25);
	t.true(device.types().includes("config-damaged"));
});

test("key rotation: after a document adds a new firmware key and retires the old one, a manifest signed with the old key is refused", async (t) => {
	const device = new Device();
	const newKey: SigningKey = makeKey();
	device.offer(sealConfig(docBody(10, { keys: [{ keyId: newKey.keyId, publicKey: Buffer.from(newKey.publicKey).toString("hex") }] })), 10);
	await device.settle();
	t.deepEqual(device.loaded().config.keys.map((k) => k.keyId), [newKey.keyId]);
	const manifest = (key: { keyId: string; privateKey: SigningKey["privateKey"] }) => envelope(JSON.stringify({ format: 1, keyId: key.keyId,
		product: "demo-board", version: "1.0.0", securityVersion: 0, sequence: 1, image: { size: 10, sha256: "00".repeat(32), url: "x.bin", kind: "sim" } }),
		{ ...key, publicKey: new Uint8Array(32) });
	device.server.put(MANIFEST, manifest(firmwareKey));
	t.deepEqual(await device.settle(), ["rejected"]);
	t.like(device.events.filter((e) => e.type === "reject").at(-1), { reason: "unknown-key" });
	device.server.put(MANIFEST, manifest(newKey));
	t.deepEqual(await device.settle(), ["none"], "the same version, signed with the new key: verified, and up to date");
	// the config keys rotate the same way: the new config key signs the next document, the old one no longer can
	const nextConfig = makeKey();
	device.offer(sealConfig(docBody(11, { keys: [{ keyId: newKey.keyId, publicKey: Buffer.from(newKey.publicKey).toString("hex") }],
		configKeys: [{ keyId: nextConfig.keyId, publicKey: Buffer.from(nextConfig.publicKey).toString("hex") }] })), 11);
	await device.settle();
	t.deepEqual(device.loaded().config.configKeys.map((k) => k.keyId), [nextConfig.keyId]);
	device.offer(sealConfig(docBody(12, { configKeys: [trusted(configKey)] })), 12);
	t.deepEqual(await device.settle(), ["rejected"]);
	t.like(device.configReports().at(-1), { state: "config-rejected", error: "unknown-key" });
});

/** How many power-clock operations a device makes to take the campaign's document 4 (after document 3). */
async function operations(seed: number, good: boolean): Promise<number> {
	const twin = new Device(seed);
	twin.offer(sealConfig(docBody(3, { pollSeconds: 40 })), 3);
	await twin.settle();
	twin.offer(sealConfig(docBody(4, good ? { pollSeconds: 20, server: "https://updates2.test" } : { pollSeconds: 20, server: "https://nowhere.test" })), 4);
	twin.power.operations = 0;
	await twin.settle();
	return twin.power.operations;
}

/** The campaign's invariant at every start: a valid config, and it is the old one or the new one. */
function oldOrNew(old: { sequence: number; pollSeconds: number; server: string }, next: { sequence: number; pollSeconds: number; server: string }) {
	return (loaded: LoadedConfig) => {
		const seen = { sequence: loaded.sequence, pollSeconds: loaded.config.pollSeconds, server: loaded.config.server };
		if (JSON.stringify(seen) !== JSON.stringify(old) && JSON.stringify(seen) !== JSON.stringify(next))
			throw new Error(`neither the old config nor the new one: ${JSON.stringify(seen)}`);
	};
}

test("power-cut campaign: 400 seeded runs, at least 300 cuts over config writes and trials: never without a valid config, never a third one", async (t) => {
	let cuts = 0, kept = 0, rolledBack = 0, runs = 0;
	for (let seed = 1; seed <= 400; seed++) {
		const good = seed % 3 !== 0;
		const device = new Device(seed);
		// the device first runs document 3; the campaign's document is 4 (good, or pointing at a server it cannot reach)
		device.offer(sealConfig(docBody(3, { pollSeconds: 40 })), 3);
		await device.settle();
		device.offer(sealConfig(docBody(4, good ? { pollSeconds: 20, server: "https://updates2.test" } : { pollSeconds: 20, server: "https://nowhere.test" })), 4);
		// the operations of the same run without a cut, measured on a twin; the seeded cuts land among them
		const budget = await operations(seed, good);
		device.power.operations = 0;
		device.power.cutAfter = Math.floor(device.power.random() * budget);
		const second = seed % 5 === 0 ? Math.floor(device.power.random() * budget) : undefined;
		const invariant = oldOrNew({ sequence: 3, pollSeconds: 40, server: "https://updates.test" },
			{ sequence: 4, pollSeconds: 20, server: good ? "https://updates2.test" : "https://nowhere.test" });
		const ends: string[] = [];
		for (let start = 0; start < 16; start++) {
			invariant(device.loaded());
			const end = await device.start();
			ends.push(end);
			if (end === "cut") {
				cuts++;
				device.power.operations = 0;
				device.power.cutAfter = start === 0 && second !== undefined ? second : Infinity;
			}
			if (end !== "reboot" && end !== "cut")
				break;
			device.reset(end === "cut" ? "power-on" : "software");
		}
		t.notRegex(ends.at(-1)!, /^(reboot|cut)$/, `seed ${seed}: ${ends.join(" ")}`);
		const loaded = device.loaded();
		invariant(loaded);
		if (good) {
			t.is(loaded.sequence, 4, `seed ${seed}: a good document is kept in the end (${ends.join(" ")})`);
			t.false(loaded.trial, `seed ${seed}`);
			kept++;
		}
		else {
			t.is(loaded.sequence, 3, `seed ${seed}: a bad document never stays (${ends.join(" ")})`);
			rolledBack++;
		}
		// and the server has the outcome: a cut between confirming and reporting loses nothing
		t.like(device.configReports().at(-1), { state: good ? "config-valid" : "config-rolled-back", configTarget: 4 }, `seed ${seed}: ${ends.join(" ")}`);
		runs++;
	}
	t.log({ runs, cuts, kept, rolledBack });
	t.true(cuts >= 300, `${cuts} cuts`);
});
