// Updates that must be refused: each with its own reason, the running image untouched and still valid.
import test from "ava";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { builds, hostileFor, is, types, withBoard, world } from "./lib.js";
import { isManifest, only, type HostileServer } from "./hostile.js";
import { makeDevCertificates } from "../../tools/server/certificates.js";
import { imagePath } from "../../tools/server/publish.js";
import type { World } from "../../tools/demo/world.js";
import type { Board } from "../../tools/demo/board.js";

async function expectReject(t: any, w: World, board: Board, reason: string) {
	const rejected = await board.waitFor(is("reject", { reason }), 20000, `a ${reason} rejection`);
	await board.waitFor((e) => e.type === "report" && e.state === "rejected" && e.t > rejected.t, 10000, "the report");
	t.false(types(board).includes("activate"), "activated a rejected update");
	t.is(board.events.filter(is("boot")).length, 1, "rebooted after a rejection");
	t.like(board.events.find(is("boot")), { slot: 0, state: "valid" });
	t.like(await w.record("reject"), { state: "rejected", lastError: reason, version: "1.0.0" });
}

function rejectCase(title: string, reason: string, publish: (w: World, images: { v1: Buffer; v2: Buffer }) => Promise<void>) {
	test.serial(title, async (t) => {
		const w = await world();
		try {
			const images = builds(w);
			await publish(w, images);
			await withBoard(w, w.device("reject", images.v1), (board) => expectReject(t, w, board, reason));
		} finally {
			await w.stop();
		}
	});
}

rejectCase("a forged signature", "bad-signature", (w, { v2 }) => w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 }, { signer: "forged" }));
rejectCase("a manifest signed by an unknown key", "unknown-key", (w, { v2 }) => w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 }, { signer: "unknown" }));
rejectCase("a manifest for another product", "wrong-product", (w, { v2 }) => w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 }, { product: "other-board" }));
rejectCase("an image larger than the slot", "too-large", (w, { v2 }) => w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 }, { size: 8 * 1024 * 1024 }));
// the server's stored copy of a published image is damaged afterwards, as a broken disk or CDN would damage it
const stored = (w: World, image: Buffer) => imagePath(w.images, createHash("sha256").update(image).digest("hex"));
rejectCase("a truncated image", "size-mismatch", async (w, { v2 }) => {
	await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
	writeFileSync(stored(w, v2), v2.subarray(0, v2.length - 1000));
});
rejectCase("a byte flipped in the image", "digest-mismatch", async (w, { v2 }) => {
	await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
	const evil = Buffer.from(v2);
	evil[200_000]! ^= 0x20;
	writeFileSync(stored(w, v2), evil);
});

/** Updates a device to v2 (security version 3, sequence 5), then offers what `offer` puts up: a release published,
 * or a manifest that a hostile server in front of the real one answers instead of the real one. */
function afterUpdate(title: string, reason: string, offer: (w: World, hostile: HostileServer, images: { v1: Buffer; v2: Buffer }) => Promise<void>) {
	test.serial(title, async (t) => {
		const w = await world();
		const hostile = await hostileFor(w);
		try {
			const images = builds(w);
			await w.publish({ version: "2.0.0", sequence: 5, securityVersion: 3, image: images.v2 });
			await withBoard(w, w.device("downgrade", images.v1, { server: hostile.url }), async (board) => {
				await board.waitFor(is("valid", { version: "2.0.0" }), 30000, "v2 confirmed");
				await board.waitFor((e) => e.type === "report" && e.state === "valid" && e.ok, 10000, "v2's report");
				await offer(w, hostile, images);
				const rejected = await board.waitFor(is("reject", { reason }), 20000, `a ${reason} rejection`);
				t.truthy(rejected);
				t.is(board.events.filter(is("activate")).length, 1);
				t.like(board.events.filter(is("boot")).at(-1), { slot: 1, version: "2.0.0" });
				await board.waitFor((e) => e.type === "report" && e.state === "rejected", 10000, "the report");
			});
			t.like(await w.record("downgrade"), { version: "2.0.0", state: "rejected", lastError: reason });
		} finally {
			await hostile.close();
			await w.stop();
		}
	});
}

afterUpdate("a lower security version (anti-rollback)", "security-downgrade", (w, _hostile, { v1 }) => w.publish({ version: "2.1.0", sequence: 6, securityVersion: 2, image: v1 }));
// the server refuses to publish an old sequence, so the replay comes from a hostile server serving an old manifest
afterUpdate("a replayed older sequence number", "replay", async (w, hostile, { v1 }) => {
	const old = Buffer.from(w.sign({ version: "2.1.0", sequence: 4, securityVersion: 3, image: v1 }));
	hostile.behaviour = only(isManifest, (exchange, server) => server.answer(exchange, { status: 200, headers: { "content-type": "application/octet-stream" }, body: old }));
});

test.serial("a device provisioned without its certificate cannot update, and says why", async (t) => {
	const w = await world();
	try {
		const { v1, v2 } = builds(w);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const flash = w.device("anonymous", v1, { clientKey: undefined, clientCertificates: undefined });
		await withBoard(w, flash, async (board) => {
			const error = await board.waitFor(is("error"), 20000, "the refusal");
			t.regex(error.detail, /HTTP 401 for the manifest \(device-certificate-required\)/);
			await board.waitFor((e) => e.type === "check" && e.t > error.t, 10000, "another check, backed off");
			t.false(types(board).includes("manifest"));
			t.false(types(board).includes("progress"));
		});
		t.is(w.server.sent.size, 0);
		t.deepEqual(await w.store.devices(), [], "a device without a certificate was recorded");
	} finally {
		await w.stop();
	}
});

test.serial("a server certificate the device's CA did not sign: nothing is downloaded", async (t) => {
	const w = await world();
	try {
		const { v1, v2 } = builds(w);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		const other = makeDevCertificates(join(w.dir, "other-ca"));
		const flash = w.device("mitm", v1, { ca: readFileSync(other.ca, "utf8") });
		await withBoard(w, flash, async (board) => {
			const error = await board.waitFor(is("error"), 20000, "a TLS error");
			t.regex(error.detail, /certificate|SSL/i);
			await board.waitFor((e) => e.type === "check" && e.t > error.t, 10000, "another check, backed off");
			t.false(types(board).includes("manifest"));
			t.false(types(board).includes("progress"));
		});
		t.is(w.server.sent.size, 0, "the server sent bytes to a device that does not trust it");
		t.deepEqual(await w.store.devices(), []);
	} finally {
		await w.stop();
	}
});
