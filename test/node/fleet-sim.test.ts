// The fleet simulator (tools/fleet) against a real management server over mutual TLS: virtual devices running the
// real client take a published release; failing ones roll back and say so; hanging ones go silent after
// "downloading"; offline ones never reach the server. And `xs-fota fleet-sim` end to end, with its errors.
import test from "ava";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World, PRODUCT } from "../../tools/demo/world.js";
import { behaviourOf, deviceId, startFleet, type Fleet, type FleetOptions } from "../../tools/fleet/fleet.js";
import { fleetImage } from "../../tools/fleet/image.js";
import { CLI } from "./lib/serve-cli.js";

const V2 = fleetImage("2.0.0", 12 * 1024);

async function world(): Promise<World> {
	const made = new World(mkdtempSync(join(tmpdir(), "xs-fota-fleet-")));
	await made.start();
	return made;
}

function fleetOptions(w: World, overrides: Partial<FleetOptions>): FleetOptions {
	return {
		server: w.url,
		serverCa: readFileSync(w.certs.ca, "utf8"),
		deviceCa: w.deviceCa,
		product: PRODUCT,
		count: 50,
		version: "1.0.0",
		keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }],
		pollSeconds: 1,
		jitter: 0.5,
		config: { timeoutSeconds: 5, reportDeadlineSeconds: 10 },
		...overrides,
	};
}

/** Settled: every device that can take the release has taken it or rolled it back, and the hanging ones went silent. */
const settled = (fleet: Fleet) => fleet.devices.every((device) => ({
	ok: device.state === "valid",
	fail: device.state === "rolled-back",
	hang: device.state === "hung",
	offline: true,
})[device.behaviour]);

test("50 virtual devices take a release over mutual TLS, and the server sees each of them on it", async (t) => {
	const w = await world();
	const fleet = await startFleet(fleetOptions(w, {}));
	try {
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: V2 });
		await fleet.waitFor(settled, 25_000);
		t.true(fleet.devices.every((device) => device.version === "2.0.0" && device.reboots === 1));
		t.true(fleet.devices.every((device) => device.manifestsSeen.some((seen) => seen.version === "2.0.0")));
		const stats = fleet.stats();
		t.deepEqual(stats.byVersion, { "2.0.0": 50 });
		t.true(stats.checkins >= 50 * 3, `${stats.checkins} check-ins`); // a manifest, downloading, activating, valid each
		t.true(stats.checkinP99Ms > 0);
		const rows = await w.store.devices();
		t.is(rows.length, 50);
		t.true(rows.every((row) => row.version === "2.0.0" && row.state === "valid"), JSON.stringify(rows.filter((row) => row.state !== "valid")));
		t.deepEqual(rows.map((row) => row.deviceId).sort(), Array.from({ length: 50 }, (_, i) => deviceId("sim", i + 1)));
		t.is(w.server.sent.get(`/v1/products/${PRODUCT}/firmware-2.0.0.bin`), 50 * V2.length, "each device downloaded the image once");
	} finally {
		await fleet.stop();
		await w.stop();
	}
});

test("failing devices roll back and report it, hanging ones stop after downloading, offline ones never appear", async (t) => {
	const w = await world();
	const shares = { failShare: 0.2, hangShare: 0.1, offlineShare: 0.1, seed: 7 };
	const options = fleetOptions(w, shares);
	// the behaviours follow from the ids and the seed alone: known before the run
	const expected = new Map(Array.from({ length: 50 }, (_, i) => deviceId("sim", i + 1)).map((id) => [id, behaviourOf(id, shares)]));
	const count = (behaviour: string) => [...expected.values()].filter((b) => b === behaviour).length;
	t.true(count("fail") > 0 && count("hang") > 0 && count("offline") > 0 && count("ok") > 0, JSON.stringify([...expected.values()]));
	await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: V2 });
	const fleet = await startFleet(options);
	try {
		t.deepEqual(new Map(fleet.devices.map((device) => [device.id, device.behaviour])), expected);
		await fleet.waitFor(settled, 25_000);
		await w.server.recorded(); // a hanging device's last word, "downloading", is committed once its 204 is out
		const rows = new Map((await w.store.devices()).map((row) => [row.deviceId, row]));
		for (const device of fleet.devices) {
			const row = rows.get(device.id);
			if (device.behaviour === "offline") {
				t.is(row, undefined, `${device.id} is offline yet the server knows it`);
				t.deepEqual(device.manifestsSeen, []);
				continue;
			}
			t.truthy(row, `${device.id} (${device.behaviour}) is not in the server's inventory`);
			if (device.behaviour === "ok")
				t.like(row, { version: "2.0.0", state: "valid" });
			if (device.behaviour === "fail") {
				t.is(device.version, "1.0.0");
				t.like(row, { version: "1.0.0", state: "rolled-back" });
				t.regex(row!.lastError ?? "", /selftest-failed: app: simulated fault/);
			}
			if (device.behaviour === "hang") {
				t.is(device.version, "1.0.0");
				t.like(row, { version: "1.0.0", state: "downloading" });
			}
		}
		// silence: nothing more comes from a hanging device, while the others keep polling
		const hanging = fleet.devices.filter((device) => device.behaviour === "hang").map((device) => device.id);
		const silent = () => Promise.all(hanging.map(async (id) => ({ history: await w.store.history(id), seen: (await w.store.device(id))!.lastSeen })));
		const before = await silent();
		const polling = fleet.devices.find((device) => device.behaviour === "ok")!.id;
		const pollingBefore = (await w.store.device(polling))!.lastSeen;
		await new Promise((resolve) => setTimeout(resolve, 2500));
		t.deepEqual(await silent(), before, "a hanging device still speaks");
		t.not((await w.store.device(polling))!.lastSeen, pollingBefore, "an ok device stopped polling");
		const stats = fleet.stats();
		t.is(stats.byState["rolled-back"], count("fail"));
		t.is(stats.byState.hung, count("hang"));
		t.is(stats.byState.offline, count("offline"));
	} finally {
		await fleet.stop();
		await w.stop();
	}
});

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [CLI, "fleet-sim", ...args], { stdio: ["ignore", "pipe", "pipe"] });
		let out = "", err = "";
		child.stdout.on("data", (chunk) => (out += chunk));
		child.stderr.on("data", (chunk) => (err += chunk));
		child.on("exit", (code) => resolve({ code, out, err }));
	});
}

test("xs-fota fleet-sim runs a fleet against a server, prints live lines and a summary, and refuses bad options", async (t) => {
	const w = await world();
	try {
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: V2 });
		const pub = join(w.dir, "release.pub");
		writeFileSync(pub, JSON.stringify({ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }));
		const certs = join(w.dir, "certs");
		const base = ["--server", w.url, "--certs", certs, "--product", PRODUCT, "--pub", pub, "--version", "1.0.0"];
		const { code, out, err } = await run([...base, "--devices", "20", "--fail", "0.25", "--poll-seconds", "1", "--jitter", "0.5",
			"--duration", "6", "--interval", "1", "--prefix", "cli", "--seed", "3"]);
		t.is(code, 0, err);
		t.regex(out, /^20 virtual devices of demo-board on 1\.0\.0/m);
		t.regex(out, /^\[\s+\d+s\] 20 devices \| .*check-ins\/s, p99 \d+ ms/m);
		const fails = Array.from({ length: 20 }, (_, i) => deviceId("cli", i + 1)).filter((id) => behaviourOf(id, { failShare: 0.25, seed: 3 }) === "fail").length;
		t.regex(out, new RegExp(`versions +1\\.0\\.0 ${fails}, 2\\.0\\.0 ${20 - fails}`), out);
		t.regex(out, new RegExp(`states +valid ${20 - fails}, rolled-back ${fails}`));
		const rows = await w.store.devices();
		t.is(rows.filter((row) => row.deviceId.startsWith("cli-") && row.state === "rolled-back").length, fails);
		t.is(rows.filter((row) => row.deviceId.startsWith("cli-") && row.version === "2.0.0").length, 20 - fails);

		// --json: the final figures as one object
		const json = await run([...base, "--devices", "3", "--poll-seconds", "1", "--duration", "2", "--prefix", "json", "--json"]);
		t.is(json.code, 0, json.err);
		t.like(JSON.parse(json.out), { devices: 3, byBehaviour: { ok: 3 } });

		for (const [args, message] of [
			[["--fail", "1.5"], /--fail must be a number from 0 to 1, not "1\.5"/],
			[["--fail", "0.6", "--hang", "0.6"], /add up to more than 1/],
			[["--devices", "lots"], /--devices must be an integer/],
			[["--jitter", "2"], /--jitter must be a number from 0 to 1/],
			[["--server", "http://localhost:1"], /--server must be an https:\/\/ URL/],
			[["--certs", join(w.dir, "nowhere")], /cannot read the server CA .*nowhere/],
		] as const) {
			const bad = await run([...base, ...args, "--duration", "1"]);
			t.not(bad.code, 0, `${args.join(" ")} was accepted`);
			t.regex(bad.err, message);
		}
		const help = await run(["--help"]);
		t.is(help.code, 0);
		t.regex(help.out, /usage: xs-fota fleet-sim/);
	} finally {
		await w.stop();
	}
});
