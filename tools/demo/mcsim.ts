// npm run demo:mcsim: the update demo in Moddable's desktop simulator. The example firmware is built three times
// with mcconfig -p lin (v1, v2, and a v3 whose self-test fails), wrapped as lin images, signed and served over
// HTTPS by the update server; a lin device is provisioned with v1 and run in mcsim by the launcher
// (`xs-fota mcsim`, under xvfb-run when there is no display). It shows v1 -> v2 confirmed and v3 rolled back.
// The device talks to the server through a relay that counts TLS handshakes at the server's socket (./tls-tap.ts):
// the Moddable transport keeps one connection per check, and the script says how many handshakes each update took.
// Needs the SDK: MODDABLE pointing at a built Moddable SDK (see README, "The desktop simulator").
import { rmSync } from "node:fs";
import { join } from "node:path";
import { buildLin } from "../builder/mcconfig.js";
import { findMcsim } from "../sim/mcsim.js";
import { World, ROOT } from "./world.js";
import { Narrator } from "./narrate.js";
import { TlsTap } from "./tls-tap.js";
import type { Board, BoardEvent } from "./board.js";

const say = new Narrator();
const WAIT_MS = 120000;

function step(text: string): void {
	say.line(`\n${text}`);
}

async function main(): Promise<number> {
	const started = performance.now();
	const moddable = process.env.MODDABLE;
	const mcsim = findMcsim(moddable);
	const dir = join(ROOT, "build/demo-mcsim");
	rmSync(dir, { recursive: true, force: true });
	say.line("xs-fota in Moddable's desktop simulator: a lin device updates itself over HTTPS, then rolls back a bad update");

	step("1. Build the example firmware (src/) three times with mcconfig -p lin, each from a clean folder");
	const build = (version: string, config: Record<string, string> = {}) => {
		const image = buildLin({ manifest: join(ROOT, "manifest.json"), version, config, out: join(dir, "builds", version), moddable: moddable!, root: ROOT });
		say.line(`  v${version}${config.fault ? ` (fault: ${config.fault})` : ""}: lin image of ${image.length} bytes`);
		return image;
	};
	const v1 = build("1.0.0");
	const v2 = build("2.0.0");
	const v3 = build("3.0.0", { fault: "fail" });

	step("2. Sign v2.0.0 (kind lin) and start the update server");
	const world = new World(dir);
	await world.start();
	await world.publish({ version: "2.0.0", kind: "lin", sequence: 2, securityVersion: 1, image: v2 });
	const tap = new TlsTap({ host: "127.0.0.1", port: Number(new URL(world.url).port) });
	const relay = await tap.listen();
	say.line(`  key ${world.keyId}; server at ${world.url}, the device reaches it through ${relay} (counting TLS handshakes)`);
	// handshakes per update: from the check that found the release to the reboot into it
	const updates: { to: string; handshakes: number; resumed: number }[] = [];
	let checkStart = { handshakes: 0, resumed: 0 };
	let updating: string | undefined;
	const watch = (event: BoardEvent) => {
		if (event.type === "check")
			checkStart = { handshakes: tap.counts.handshakes, resumed: tap.counts.resumed };
		else if (event.type === "manifest")
			updating = String(event.version);
		else if (event.type === "reboot" && event.reason === "update" && updating !== undefined) {
			updates.push({ to: updating, handshakes: tap.counts.handshakes - checkStart.handshakes, resumed: tap.counts.resumed - checkStart.resumed });
			const { handshakes, resumed } = updates.at(-1)!;
			say.line(`  server   the check that fetched v${updating} (manifest, image, reports) made ${handshakes - resumed} full TLS handshake(s)` +
				` and resumed the session ${resumed} time(s) (the server closes a connection idle for 5 s: it sent the image long before a slow device took it all)`);
			updating = undefined;
		}
	};

	step(`3. Provision lin device mcsim-1 with v1.0.0, and start it in mcsim (${mcsim})`);
	let board: Board | undefined;
	try {
		board = world.bootMcsim(world.device("mcsim-1", v1, { selftestSeconds: 20, watchdogSeconds: 10, timeoutSeconds: 15, server: relay }), { onEvent: (event) => { say.event(event); watch(event); }, mcsim });
		await board.waitFor((e) => e.type === "report" && e.state === "valid", WAIT_MS, "v2 confirmed and reported");
		const seen = (await world.record("mcsim-1"));
		say.line(`  server   mcsim-1 runs ${seen?.version}, state ${seen?.state}`);

		step("4. Publish v3.0.0 (sequence 3): signed and intact, but its self-test fails");
		await world.publish({ version: "3.0.0", kind: "lin", sequence: 3, securityVersion: 2, image: v3 });
		await board.waitFor((e) => e.type === "report" && e.state === "rolled-back", WAIT_MS, "the rollback reported");
		const after = (await world.record("mcsim-1"));
		say.line(`  server   mcsim-1 runs ${after?.version}, state ${after?.state}: ${after?.lastError}`);
	} finally {
		await board?.stop();
		await tap.close();
		await world.stop();
	}
	const boots = board.events.filter((e) => e.type === "boot");
	const bricked = board.events.some((e) => e.type === "bricked");
	const checks = board.events.filter((e) => e.type === "check").length;
	const { handshakes, resumed, offered, connections } = tap.counts;
	step(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s: ${boots.length} mcsim boots (${boots.map((e) => `${e.label} v${e.version}`).join(", ")}), ${bricked ? "BRICKED" : "never bricked"}.`);
	say.line(`The server's socket saw ${handshakes} TLS handshakes (${resumed} resumed, ${offered} offering a session to resume) on ${connections} connections, for ${checks} checks over ${boots.length} boots; per update (full + resumed): ${updates.map((u) => `v${u.to} ${u.handshakes - u.resumed} + ${u.resumed}`).join(", ")}.`);
	say.line(`The device's event log (JSON Lines) is in ${dir}/.`);
	// one full handshake per check at most (none when the check reused the connection of the report before it); a
	// connection the server closed meanwhile is resumed, not negotiated again
	const oneEach = updates.length > 0 && updates.every((u) => u.handshakes - u.resumed <= 1);
	if (!oneEach)
		say.line("FAILED: an update check made more than one full TLS handshake");
	return bricked || !oneEach ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (error) => {
	console.error(`\nxs-fota mcsim demo failed: ${error.message}`);
	process.exitCode = 1;
});
