// npm start: a sim device updates itself from v1 to v2 over HTTPS, then refuses to keep a bad v3 and
// rolls back to v2, reporting why. Everything runs on this machine: the server on loopback, the device
// on the simulated board (hosts/sim), the firmware in the XS engine.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { World, ROOT } from "./world.js";
import { Narrator } from "./narrate.js";
import type { Board, BoardEvent } from "./board.js";

const say = new Narrator();

function step(text: string): void {
	say.line(`\n${text}`);
}

async function until(board: Board, test: (e: BoardEvent) => boolean, what: string): Promise<void> {
	await board.waitFor(test, 45000, what);
}

async function main(): Promise<number> {
	const started = performance.now();
	const dir = join(ROOT, "build/demo");
	rmSync(dir, { recursive: true, force: true });
	say.line("xs-fota demo: a device updates itself over HTTPS, then rolls back a bad update on its own");

	step("1. Build the example firmware (src/) three times, as sim images");
	const world = new World(dir);
	const v1 = world.firmware({ version: "1.0.0", criticalAfterMs: 100, criticalForMs: 1500 });
	const v2 = world.firmware({ version: "2.0.0", padTo: 384 * 1024 });
	const v3 = world.firmware({ version: "3.0.0", fault: "fail", padTo: 384 * 1024 });
	say.line(`  v1.0.0 ${v1.length} bytes (runs a critical task soon after boot); v2.0.0 ${v2.length} bytes; v3.0.0 ${v3.length} bytes (its self-test fails on purpose)`);

	step("2. Start the management server (fleet in SQLite, devices over mutual TLS), sign v2.0.0 with the vendor's Ed25519 key and publish it");
	await world.start();
	await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
	say.line(`  key ${world.keyId}; fleet in ${join(world.dir, "fleet.db")}, images in ${world.images}; server at ${world.url} (development CA; device CA for the devices)`);

	step("3. Provision device demo-1 with v1.0.0 and its config (server, CA, trusted key, its own certificate), and power it on");
	const board = world.boot(world.device("demo-1", v1), { onEvent: (event) => say.event(event) });
	try {
		await until(board, (e) => e.type === "report" && e.state === "valid", "v2 confirmed and reported");
		const seen = (await world.record("demo-1"));
		say.line(`  server   demo-1 runs ${seen?.version}, state ${seen?.state}`);

		step("4. Publish v3.0.0 (sequence 3): signed and intact, but broken in the field");
		await world.publish({ version: "3.0.0", sequence: 3, securityVersion: 2, image: v3 });
		await until(board, (e) => e.type === "report" && e.state === "rolled-back", "the rollback reported");
		await until(board, (e) => e.type === "none" && e.why === "previously-failed", "the bad release skipped");
		const after = (await world.record("demo-1"));
		say.line(`  server   demo-1 runs ${after?.version}, state ${after?.state}: ${after?.lastError}`);
	} finally {
		await board.stop();
		await world.stop();
	}
	const bricked = board.events.some((e) => e.type === "bricked");
	step(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s. ${board.events.filter((e) => e.type === "boot").length} boots, ${bricked ? "BRICKED" : "never bricked"}.`);
	say.line(`The device's event log (JSON Lines) is in ${dir}/.`);
	return bricked ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (error) => {
	console.error(`\nxs-fota demo failed: ${error.message}`);
	process.exitCode = 1;
});
