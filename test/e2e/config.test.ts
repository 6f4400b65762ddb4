// Configuration over the air on the sim board (the real XS engine, the real natives, the board's flash): a signed
// config document that passes its trial is kept; one that points the device at a server it cannot reach, gives it
// a CA that does not sign the server, or fails the app's own check is rolled back on its own, and the reason reaches
// the server through the config that came back; a device whose working copies are destroyed runs its factory copy,
// says so, and is given its last good config back; documents a compromised server holds (forged, a manifest, one
// that sets the device's key) are refused with their reasons and change nothing; power cuts at every flash
// operation leave the old config or the new one.
import test from "ava";
import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builds, is, withBoard, world } from "./lib.js";
import { makeDevCertificates } from "../../tools/server/certificates.js";
import { readFileSync } from "node:fs";
import { writeConfigArea } from "../../tools/sim/flash.js";
import { frameConfigBody, joinEnvelope } from "../../modules/fota/envelope.js";
import type { World } from "../../tools/demo/world.js";
import type { Board } from "../../tools/demo/board.js";

/** Waits until the server has a config-* state for this document from the device. */
async function serverSaw(w: World, deviceId: string, state: string, target: number, timeoutMs = 30000) {
	const end = Date.now() + timeoutMs;
	for (;;) {
		const entry = (await w.store.configHistory(deviceId)).find((e) => e.state === state && e.target === target);
		if (entry)
			return entry;
		if (Date.now() > end)
			throw new Error(`the server never saw ${state} ${target} from ${deviceId}: ${JSON.stringify(await w.store.configHistory(deviceId))}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

async function rolledBack(t: any, w: World, board: Board, name: string, sequence: number, reason: RegExp) {
	const rollback = await board.waitFor((e) => e.type === "config-rollback" && e.sequence === sequence, 30000, `the rollback of ${sequence}`);
	t.regex(rollback.reason, reason);
	const entry = await serverSaw(w, name, "config-rolled-back", sequence);
	t.regex(entry.error!, reason);
	// the device is back on the config it ran before, and says so in its reports
	t.like(await w.store.deviceConfig(name), { sequence: 1, source: "working" });
}

test.serial("a config that passes its trial is kept; a server it cannot reach, an untrusted CA or a failing app check is rolled back, reason reported", async (t) => {
	const w = await world();
	try {
		const { v1 } = builds(w);
		const name = "cfg-trial";
		await withBoard(w, w.device(name, v1), async (board) => {
			await board.waitFor(is("none", { why: "no-release" }), 30000, "the first check");
			await w.pushConfig(w.signConfig({ devices: [name], sequence: 1, settings: w.settings(name, { app: { sensorMax: 30 }, selftestSeconds: 8 }) }));
			const valid = await board.waitFor((e) => e.type === "config-valid" && e.sequence === 1, 30000, "config 1 kept");
			t.deepEqual(valid.checks, ["sensor", "main-loop", "update-server"]);
			await serverSaw(w, name, "config-valid", 1);
			t.like(await w.store.deviceConfig(name), { sequence: 1, source: "working", lastKnownGood: { sequence: 1 } });
			t.like((await w.store.deviceConfig(name))!.fields, { selftestSeconds: 8 });

			// a server nobody answers at
			await w.pushConfig(w.signConfig({ devices: [name], sequence: 2, settings: w.settings(name, { server: "https://127.0.0.1:9" }) }));
			await rolledBack(t, w, board, name, 2, /^config-selftest-failed: update-server: /);

			// a CA that did not sign the server's certificate
			const stranger = makeDevCertificates(mkdtempSync(join(tmpdir(), "xs-fota-stranger-")));
			await w.pushConfig(w.signConfig({ devices: [name], sequence: 3, settings: w.settings(name, { ca: readFileSync(stranger.ca, "utf8") }) }));
			await rolledBack(t, w, board, name, 3, /^config-selftest-failed: update-server: /);

			// the app's own check, reading its settings
			await w.pushConfig(w.signConfig({ devices: [name], sequence: 4, settings: w.settings(name, { app: { sensorMax: 10 } }) }));
			await rolledBack(t, w, board, name, 4, /^config-selftest-failed: sensor: sensor reads 21.5, above app.sensorMax 10/);

			// none of the failed documents is taken again; the kept one stays
			await board.waitFor((e) => e.type === "check" && e.t > board.events.findLast((x) => x.type === "config-rollback")!.t, 10000, "a check after the last rollback");
			t.is(board.events.filter((e) => e.type === "config-activate").length, 4);
		});
		const failures = (await w.store.configFailures(name)).map((f) => f.sequence).sort();
		t.deepEqual(failures, [2, 3, 4]);
	} finally {
		await w.stop();
	}
});

test.serial("both working copies destroyed: the factory copy serves, the report says so, and the server gives the last good config back", async (t) => {
	const w = await world();
	try {
		const { v1 } = builds(w);
		const name = "cfg-restore";
		const flash = w.device(name, v1);
		await withBoard(w, flash, async (board) => {
			await board.waitFor(is("none", { why: "no-release" }), 30000, "the first check");
			await w.pushConfig(w.signConfig({ devices: [name], sequence: 11, settings: w.settings(name, { pollSeconds: 2 }) }));
			await board.waitFor((e) => e.type === "config-valid" && e.sequence === 11, 30000, "config 11 kept");
			await serverSaw(w, name, "config-valid", 11);
		});
		// the device is off; both working copies are destroyed (the factory copy is not: provisioning wrote it once)
		writeConfigArea(flash, "working-1", new Uint8Array(64));
		writeConfigArea(flash, "working-2", new Uint8Array(64));
		await withBoard(w, flash, async (board) => {
			const damaged = await board.waitFor(is("config-damaged"), 30000, "the damage seen");
			t.is(damaged.source, "factory");
			await board.waitFor((e) => e.type === "config-valid" && e.sequence === 11, 30000, "config 11 restored");
		});
		const history = await w.store.configHistory(name);
		t.true(history.some((e) => e.state === "config" && e.source === "factory" && e.sequence === 0), "the server heard the device run its factory copy");
		t.like(await w.store.deviceConfig(name), { sequence: 11, source: "working", lastKnownGood: { sequence: 11 } });
	} finally {
		await w.stop();
	}
});

/** What every boot of a cut run must show: a config loaded (no boot without one), and it is the old or the new. */
function oldOrNew(t: any, board: Board, where: string, sequences: number[]): void {
	const configs = board.events.filter(is("config"));
	const boots = board.events.filter(is("boot"));
	t.is(configs.length, boots.length, `${where}: a boot without a config`);
	for (const config of configs)
		t.true(sequences.includes(config.sequence), `${where}: config ${config.sequence} is neither ${sequences.join(" nor ")}`);
}

for (const good of [true, false]) {
	test.serial(`a power cut at every flash operation of a ${good ? "kept" : "rolled-back"} config: the old config or the new one, never neither, and the right one in the end`, async (t) => {
		const w = await world();
		try {
			const { v1 } = builds(w);
			const FAST = { timeoutSeconds: 2, requestDeadlineSeconds: 2, reportDeadlineSeconds: 1 };
			// every device of this test takes the same document at its first check: it is waiting before the device boots
			const settings = (name: string) => w.settings(name, { ...FAST, ...(good ? { pollSeconds: 2 } : { server: "https://127.0.0.1:9" }) });
			await w.pushConfig(w.signConfig({ sequence: good ? 21 : 22, settings: settings("any") }));
			const sequence = good ? 21 : 22;
			let first = 0, last = 0;
			await withBoard(w, w.device(`cut-${good}-measure`, v1, FAST), async (board) => {
				first = (await board.waitFor(is("config-check"), 30000, "the document fetched")).ops;
				last = (await board.waitFor((e) => e.type === "report" && e.state === (good ? "config-valid" : "config-rolled-back"), 40000, "the outcome reported")).ops;
			});
			t.true(last - first >= 6, `only ${last - first} flash operations from the fetch to the report`);
			let cuts = 0;
			for (let cut = first; cut <= last; cut++) {
				const name = `cut-${good}-${cut}`;
				await withBoard(w, w.device(name, v1, FAST), async (board) => {
					await board.waitFor(is("power-cut"), 30000, `cut ${cut}`);
					cuts++;
					await board.waitFor((e) => e.type === "report" && e.ok === true && e.state === (good ? "config-valid" : "config-rolled-back") && e.ops > cut,
						40000, `cut ${cut}: the outcome reported after the cut`);
					oldOrNew(t, board, `cut ${cut}`, [0, sequence]);
					t.is(board.events.findLast(is("config"))!.sequence, good ? sequence : 0, `cut ${cut}: the end`);
				}, { args: ["--power-cut-after", String(cut)], env: { XSFOTA_POWER_CUT_TEAR: String(((cut * 7) % 10) / 10) } });
			}
			t.log({ first, last, cuts });
		} finally {
			await w.stop();
		}
	});
}

test.serial("documents a compromised server holds are refused on the board, each with its reason, and nothing changes", async (t) => {
	const w = await world();
	try {
		const { v1 } = builds(w);
		const name = "cfg-refuse";
		// straight into the fleet store, past the server's checks, as a compromised server or database would hold them
		const hold = async (sequence: number, bytes: Uint8Array) => w.store.addConfigDoc({ product: "demo-board", sequence, devices: [name], staged: false,
			bytes, sha256: createHash("sha256").update(bytes).digest("hex"), createdBy: "attacker" }, new Date());
		const seal = (body: object, key: KeyObject, keyId: string) => {
			const framed = frameConfigBody(keyId, new TextEncoder().encode(JSON.stringify(body)));
			return joinEnvelope(framed, new Uint8Array(sign(null, framed, key)));
		};
		const body = (sequence: number, changes: Record<string, unknown> = {}) => ({ format: 1, product: "demo-board", devices: [name], sequence, settings: w.settings(name, changes) });
		const { privateKey: stranger } = generateKeyPairSync("ed25519");
		await withBoard(w, w.device(name, v1), async (board) => {
			await board.waitFor(is("none", { why: "no-release" }), 30000, "the first check");
			const cases: [number, Uint8Array, string][] = [
				[31, seal(body(31, { pollSeconds: 9 }), stranger, w.configKey.keyId), "bad-signature"],
				[32, w.sign({ version: "9.9.9", sequence: 32, securityVersion: 0, image: v1 }), "malformed"],
				[33, seal(body(33, { clientKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }), w.configKey.privateKey, w.configKey.keyId), "secret-field"],
			];
			for (const [sequence, bytes, reason] of cases) {
				await hold(sequence, bytes);
				const entry = await serverSaw(w, name, "config-rejected", sequence);
				t.is(entry.error, reason, `document ${sequence}`);
			}
			t.false(board.events.some(is("config-activate")), "nothing was written");
			t.like(board.events.findLast(is("config")), { sequence: 0, source: "factory" });
		});
	} finally {
		await w.stop();
	}
});
