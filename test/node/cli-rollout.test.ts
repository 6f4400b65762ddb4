// The CLI's rollout commands against a running `xs-fota serve`: a release published --staged, a rollout created,
// shown, paused, resumed and aborted, each change with its cause; bad options and refusals with clear messages.
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, startFleet } from "./lib/serve-cli.js";

test("publish --staged, then rollout create, show, pause, resume and abort", async (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-cli-rollout-"));
	const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
	t.is(cli("init", "--out", join(dir, "certs")).status, 0);
	t.is(cli("keygen", "--out", join(dir, "keys"), "--name", "release").status, 0);
	for (const [version, sequence] of [["1.0.0", "1"], ["2.0.0", "2"]] as const) {
		writeFileSync(join(dir, `${version}.img`), Buffer.alloc(2000, Number(sequence)));
		const signed = cli("sign", "--key", join(dir, "keys/release.key"), "--image", join(dir, `${version}.img`), "--product", "demo", "--version", version,
			"--security-version", "1", "--sequence", sequence, "--kind", "sim", "--out", join(dir, version));
		t.is(signed.status, 0, signed.stderr);
	}
	const served = await startFleet(dir);
	t.teardown(() => served.child.kill("SIGTERM"));
	const { run } = served;
	t.is(run("publish", "--manifest", join(dir, "1.0.0/manifest.xfm"), "--image", join(dir, "1.0.0/1.0.0.img")).status, 0);
	const staged = run("publish", "--manifest", join(dir, "2.0.0/manifest.xfm"), "--image", join(dir, "2.0.0/2.0.0.img"), "--staged");
	t.is(staged.status, 0, staged.stderr);
	t.like(JSON.parse(staged.stdout), { version: "2.0.0", staged: true });
	// refusals: of the options here, of the spec at the server
	const both = run("rollout", "create", "--product", "demo", "--version", "2.0.0", "--stages", "1,100", "--exponential", "1,2");
	t.is(both.status, 2);
	t.regex(both.stderr, /give --stages or --exponential, not both/);
	const badWindow = run("rollout", "create", "--product", "demo", "--version", "2.0.0", "--window", "0 2 * * *");
	t.is(badWindow.status, 2);
	t.regex(badWindow.stderr, /must be "CRON\|MINUTES\|TIME-ZONE"/);
	const everyone = run("rollout", "create", "--product", "demo", "--version", "1.0.0");
	t.is(everyone.status, 1);
	t.regex(everyone.stderr, /the server refused \(409\): not-staged: demo 1\.0\.0 is already served to every device/);
	const falling = run("rollout", "create", "--product", "demo", "--version", "2.0.0", "--stages", "50,10,100");
	t.is(falling.status, 1);
	t.regex(falling.stderr, /\(400\): bad-rollout: stage 2: the shares must rise strictly/);
	// the rollout
	const created = run("rollout", "create", "--product", "demo", "--version", "2.0.0", "--stages", "1,10,50,100", "--error", "10", "--min-devices", "20",
		"--window", "0 2 * * *|120|Europe/Paris", "--from-version", "1.0.0");
	t.is(created.status, 0, created.stderr);
	t.regex(created.stdout, /^rollout 1: demo 2\.0\.0 \(sequence 2\) \[running\] started: stage 1 of 4 opened \(1\.0% of the target\)$/m);
	t.regex(created.stdout, /thresholds: success 95%, error 10% after 20 devices, soak 0 s, timeout 3600 s/);
	t.regex(created.stdout, /stage 4 \(100%\) closed 0 devices/);
	t.is(run("rollout", "pause", "1").status, 0);
	const resumed = run("rollout", "resume", "1", "--error", "20");
	t.is(resumed.status, 0, resumed.stderr);
	t.regex(resumed.stdout, /\[running\] resumed by erin with error threshold 20\.0%/);
	t.is(run("rollout", "abort", "1").status, 0);
	const shown = run("rollout", "show", "1");
	t.regex(shown.stdout, /\[aborted\] aborted by erin/);
	const events = shown.stdout.split("\n").filter((line) => /^\s+\d{4}-\d\d-\d\dT/.test(line)).map((line) => line.trim().split(" ")[1]);
	t.deepEqual(events, ["running:", "paused:", "running:", "aborted:"]);
	const json = JSON.parse(run("rollout", "list", "--product", "demo", "--json").stdout);
	t.like(json, [{ id: 1, state: "aborted", filter: { versions: ["1.0.0"] }, windows: [{ cron: "0 2 * * *", durationMinutes: 120, timeZone: "Europe/Paris" }] }]);
	const again = run("rollout", "pause", "1");
	t.is(again.status, 1);
	t.regex(again.stderr, /\(409\): bad-state: rollout 1 is aborted: it cannot be paused/);
	t.is(run("rollout", "show", "x").status, 2);
});
