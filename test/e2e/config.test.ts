// Configuration over the air on the sim board (the real XS engine, the real natives, the board's flash): a signed
// config document that passes its trial is kept; one that points the device at a server it cannot reach, gives it
// a CA that does not sign the server, or fails the app's own check is rolled back on its own, and the reason reaches
// the server through the config that came back; a device whose working copies are destroyed runs its factory copy,
// says so, and is given its last good config back.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builds, is, withBoard, world } from "./lib.js";
import { makeDevCertificates } from "../../tools/server/certificates.js";
import { readFileSync } from "node:fs";
import { writeConfigArea } from "../../tools/sim/flash.js";
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
