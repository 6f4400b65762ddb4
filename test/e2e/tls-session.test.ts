// End to end: one TLS session per update. Against the real server (it keeps connections alive) the check, the
// manifest, every image range and the reports before the reboot go over one connection: one full handshake. Through
// a server that closes the connection after every response (the tests' hostile server, which offers resumption by
// session id as the real server does) the update still completes, and every later connection resumes the session.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World } from "../../tools/demo/world.js";
import { hostileFor } from "./lib.js";
import { cutImageOnce } from "./hostile.js";
import type { TlsCounts } from "../../tools/server/sessions.js";
import type { Board } from "../../tools/demo/board.js";

/** The server's counts when the device has sent its "activating" report: the last request before its reboot. */
async function countedToActivation(board: Board, counts: TlsCounts): Promise<TlsCounts> {
	await board.waitFor((e) => e.type === "report" && e.state === "activating", 60000, "the activating report");
	return { ...counts };
}

test("one full TLS handshake for a whole update against the real server: check, manifest, image, reports", async (t) => {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-e2e-")));
	await world.start();
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0", padTo: 256 * 1024 });
		await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const board = world.boot(world.device("dev-a", v1));
		try {
			const counts = await countedToActivation(board, world.server.tls);
			t.deepEqual(counts, { handshakes: 1, resumptions: 0 });
			await board.waitFor((e) => e.type === "report" && e.state === "valid" && e.ok === true, 30000, "v2 confirmed and its report taken by the server");
		} finally {
			await board.stop();
		}
		t.like(await world.record("dev-a"), { version: "2.0.0" });
	} finally {
		await world.stop();
	}
});

test("a server that closes after every response: the update completes, and each new connection resumes the TLS session", async (t) => {
	const world = new World(mkdtempSync(join(tmpdir(), "xs-fota-e2e-")));
	await world.start();
	const hostile = await hostileFor(world);
	try {
		const v1 = world.firmware({ version: "1.0.0" });
		const v2 = world.firmware({ version: "2.0.0", padTo: 256 * 1024 });
		await world.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		// the link is also cut once in the image: the range that follows comes on a new connection, resumed too
		hostile.behaviour = cutImageOnce(100_000);
		const board = world.boot(world.device("dev-b", v1, { server: hostile.url }));
		try {
			const counts = await countedToActivation(board, hostile.tls);
			const requests = hostile.requests.length;
			t.true(requests >= 5, `${requests} requests`); // manifest, report, image (cut), image (rest), report at least
			t.deepEqual(counts, { handshakes: 1, resumptions: requests - 1 });
			await board.waitFor((e) => e.type === "report" && e.state === "valid" && e.ok === true, 30000, "v2 confirmed and its report taken by the server");
		} finally {
			await board.stop();
		}
		// the resumed sessions kept the device's identity: the server has its reports under its own id
		t.like(await world.record("dev-b"), { version: "2.0.0", state: "valid" });
	} finally {
		await hostile.close();
		await world.stop();
	}
});
