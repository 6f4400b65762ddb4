// The hostile-server suite (issue 9): a sim-host device on v1 updates to v2 through a server that misbehaves as a
// broken or malicious server or CDN would. For each attack the device must notice it, never brick, never crash,
// never activate an image it has not verified, and complete the update once the server behaves.
import test, { type ExecutionContext } from "ava";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { builds, hostileFor, is, withBoard, world } from "./lib.js";
import { cutAfter, HostileServer, isImage, isManifest, isReport, only, passOn, sleep, type Behaviour } from "./hostile.js";
import type { Board, BoardEvent } from "../../tools/demo/board.js";
import type { World } from "../../tools/demo/world.js";
import { DEVICE_CHUNK_BYTES } from "../../tools/demo/world.js";

/** Tight bounds, so that each attack is noticed in seconds (the defaults are minutes: docs/format.md). */
const LIMITS = { timeoutSeconds: 3, requestDeadlineSeconds: 3, imageDeadlineSeconds: 20, reportDeadlineSeconds: 1, rateWindowSeconds: 2, minRateBytesPerSecond: 64 };

interface Phase {
	/** how the server answers during this phase */
	behaviour: Behaviour | undefined;
	/** the event that shows the device met the attack; the next phase starts then */
	until: (event: BoardEvent) => boolean;
	what: string;
}

const failure = (pattern: RegExp) => (event: BoardEvent) =>
	(event.type === "retry" && pattern.test(String(event.error))) || (event.type === "error" && pattern.test(String(event.detail)));

/** Runs the phases against a device on v1, then lets the server behave and waits for v2 to be confirmed. */
async function attack(t: ExecutionContext, name: string, phases: Phase[] | ((w: World) => Phase[]), check?: (board: Board, w: World, hostile: HostileServer) => void | Promise<void>): Promise<void> {
	const w = await world();
	const hostile = await hostileFor(w);
	try {
		const { v1, v2 } = builds(w);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		await withBoard(w, w.device(name, v1, { ...LIMITS, server: hostile.url }), async (board) => {
			for (const phase of typeof phases === "function" ? phases(w) : phases) {
				hostile.behaviour = phase.behaviour;
				const since = board.events.at(-1)?.t ?? 0;
				const seen = await board.waitFor((event) => event.t >= since && phase.until(event), 40000, `${name}: ${phase.what}`);
				t.truthy(seen, phase.what);
			}
			hostile.behaviour = undefined; // the server behaves from now on
			await board.waitFor(is("valid", { version: "2.0.0" }), 60000, `${name}: v2 confirmed once the server behaves`);
			await board.waitFor((event) => event.type === "report" && event.state === "valid" && event.ok, 20000, `${name}: v2's report`);
			sound(t, board);
			await check?.(board, w, hostile);
		});
		t.like(await w.record(name), { version: "2.0.0", state: "valid" });
	} finally {
		await hostile.close();
		await w.stop();
	}
}

/** No crash, only the two signed images ever booted, and every activation followed a verification of that image. */
function sound(t: ExecutionContext, board: Board): void {
	const crashes = board.events.filter((event) => event.type === "reboot" && ["crash", "watchdog"].includes(event.reason));
	t.deepEqual(crashes, [], "the device crashed");
	t.true(board.events.filter(is("boot")).every((event) => ["1.0.0", "2.0.0"].includes(event.version)), "an unknown image booted");
	board.events.forEach((event, index) => {
		if (event.type !== "activate")
			return;
		const verified = board.events.slice(0, index).reverse().find((e) => e.boot === event.boot && e.type === "verified");
		t.true(verified?.version === event.version, `activated ${event.version} without verifying it in the same boot`);
	});
}

test.serial("a server that drips the image at 2 bytes a second is cut at the rate bound", async (t) => {
	const drip: Behaviour = async (exchange, hostile) => {
		const answer = await hostile.upstream(exchange);
		hostile.writeHead(exchange, answer.status, { ...answer.headers, "content-length": answer.body.length, connection: "close" });
		for (let at = 0; at < answer.body.length; at += 2) {
			if (!(await hostile.write(exchange, answer.body.subarray(at, at + 2))))
				return;
			await sleep(1000);
		}
	};
	await attack(t, "drip", [{ behaviour: only(isImage, drip), until: failure(/below 64 bytes a second/), what: "the rate bound" }]);
});

test.serial("an endless body (no length, bytes for ever) is refused past the signed size, and counted as a bad transfer", async (t) => {
	const endless: Behaviour = async (exchange, hostile) => {
		hostile.writeHead(exchange, 200, { "content-type": "application/octet-stream" });
		const junk = Buffer.alloc(16384, 0x5a);
		while (await hostile.write(exchange, junk));
	};
	await attack(t, "endless-body", [{ behaviour: only(isImage, endless), until: is("reject", { reason: "body-too-long" }), what: "body-too-long" }],
		(board) => { t.true(board.events.some(is("retry-later", { reason: "body-too-long" }))); });
});

test.serial("endless headers are refused at the header bounds", async (t) => {
	const endless: Behaviour = async (exchange, hostile) => {
		exchange.socket.write("HTTP/1.1 200 OK\r\n");
		for (let i = 0; ; i++) {
			if (!(await hostile.write(exchange, Buffer.from(`X-Filler-${i}: ${"a".repeat(64)}\r\n`))))
				return;
			if (i % 64 === 0)
				await sleep(1);
		}
	};
	await attack(t, "endless-headers", [{ behaviour: only(isManifest, endless), until: failure(/response headers exceed 64 lines or 8192 bytes/), what: "the header bound" }]);
});

test.serial("lies in Content-Range: a range other than the one asked for is refused, a body shifted under a true one fails the digest", async (t) => {
	const wrongRange: Behaviour = async (exchange, hostile) => {
		const answer = await hostile.upstream(exchange);
		const size = Number(answer.headers["content-range"]?.split("/")[1]);
		await hostile.answer(exchange, { ...answer, headers: { ...answer.headers, "content-range": `bytes 1-${size - 1}/${size}` }, body: answer.body.subarray(1) });
	};
	const shifted: Behaviour = async (exchange, hostile) => {
		const answer = await hostile.upstream(exchange);
		const body = Buffer.concat([answer.body.subarray(7), answer.body.subarray(0, 7)]);
		await hostile.answer(exchange, { ...answer, body });
	};
	await attack(t, "content-range", [
		{ behaviour: only(isImage, wrongRange), until: failure(/Content-Range .* does not match/), what: "the refused Content-Range" },
		{ behaviour: only(isImage, shifted), until: is("reject", { reason: "digest-mismatch" }), what: "the digest mismatch" },
	]);
});

test.serial("more bytes than signed are refused, and nothing past the signed size is written", async (t) => {
	const more: Behaviour = async (exchange, hostile) => {
		const answer = await hostile.upstream(exchange);
		await hostile.answer(exchange, { ...answer, body: Buffer.concat([answer.body, Buffer.alloc(4096, 0x66)]) });
	};
	await attack(t, "more-than-signed", [{ behaviour: only(isImage, more), until: is("reject", { reason: "body-too-long" }), what: "body-too-long" }]);
});

test.serial("a changed image under the same ETag: the resumed download fails its digest and starts again from zero", async (t) => {
	const changed: Behaviour = async (exchange, hostile) => {
		if (exchange.count === 1)
			return cutAfter(100_000)(exchange, hostile);
		const answer = await hostile.upstream(exchange);
		const body = Buffer.from(answer.body);
		body[body.length >> 1] ^= 0xff; // other bytes, same ETag, same Content-Range
		await hostile.answer(exchange, { ...answer, body });
	};
	await attack(t, "same-etag", [{ behaviour: only(isImage, changed), until: is("reject", { reason: "digest-mismatch" }), what: "the digest mismatch" }],
		(board) => {
			const reject = board.events.findIndex(is("reject", { reason: "digest-mismatch" }));
			t.false(board.events.slice(reject).some(is("resume")), "resumed the bad image instead of starting over");
		});
});

test.serial("a redirect to http is not followed", async (t) => {
	let plain = 0;
	const http = createHttpServer((request, response) => { plain++; response.end(); });
	await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
	const port = (http.address() as AddressInfo).port;
	const redirect: Behaviour = (exchange, hostile) => hostile.answer(exchange, { status: 302, headers: { location: `http://localhost:${port}${exchange.target}` }, body: Buffer.alloc(0) });
	try {
		await attack(t, "redirect", [
			{ behaviour: only(isManifest, redirect), until: failure(/HTTP 302 for the manifest/), what: "the refused redirect of the manifest" },
			{ behaviour: only(isImage, redirect), until: failure(/HTTP 302 for the image/), what: "the refused redirect of the image" },
		]);
		t.is(plain, 0, "the device followed a redirect to http");
	} finally {
		http.close();
	}
});

test.serial("oversized headers: a 20 KB header is refused; a 1,100-character ETag is dropped, never stored nor sent back", async (t) => {
	const huge: Behaviour = async (exchange, hostile) => {
		const answer = await hostile.upstream(exchange);
		await hostile.answer(exchange, { ...answer, headers: { ...answer.headers, "x-padding": "p".repeat(20_000) } });
	};
	const longTag = `"${"e".repeat(1098)}"`;
	const longEtag: Behaviour = async (exchange, hostile) => {
		const answer = await hostile.upstream(exchange);
		const tagged = { ...answer, headers: { ...answer.headers, etag: longTag } };
		if (exchange.count === 1) { // and the link is cut, so that a resume would send the ETag back
			hostile.writeHead(exchange, tagged.status, { ...tagged.headers, "content-length": tagged.body.length });
			await hostile.write(exchange, tagged.body.subarray(0, 100_000));
			return void exchange.socket.end();
		}
		await hostile.answer(exchange, tagged);
	};
	await attack(t, "oversized-headers", [
		{ behaviour: only(isManifest, huge), until: failure(/response headers exceed/), what: "the refused header" },
		{ behaviour: only(isImage, longEtag), until: is("etag-dropped"), what: "the dropped ETag" },
	], (_board, _w, hostile) => {
		t.false(hostile.requests.some((request) => (request.headers["if-range"] ?? "").length > 128), "the long ETag was sent back");
	});
});

test.serial("truncated headers are a transient error, with back-off; no rejection is reported", async (t) => {
	const truncated: Behaviour = (exchange) => void exchange.socket.end("HTTP/1.1 200 OK\r\nContent-Ty");
	await attack(t, "truncated-headers", [{ behaviour: only(isManifest, truncated), until: is("error"), what: "the transient error" }],
		async (board, w) => {
			const firstValid = board.events.findIndex(is("manifest"));
			t.false(board.events.slice(0, firstValid).some(is("reject")), "a truncated response was taken for a rejected manifest");
			t.false((await w.record("truncated-headers"))!.lastError?.includes("malformed") ?? false);
		});
});

test.serial("a reset mid-chunk: the download resumes from its last checkpoint", async (t) => {
	const reset: Behaviour = async (exchange, hostile) => {
		if (exchange.count > 1)
			return passOn(exchange, hostile);
		const answer = await hostile.upstream(exchange);
		hostile.writeHead(exchange, answer.status, { ...answer.headers, "content-length": answer.body.length });
		await hostile.write(exchange, answer.body.subarray(0, 3 * DEVICE_CHUNK_BYTES + 4321));
		await sleep(50);
		exchange.socket.resetAndDestroy();
	};
	await attack(t, "reset", [{ behaviour: only(isImage, reset), until: is("resume"), what: "the resume" }],
		(_board, w, hostile) => {
			const image = hostile.requests.find((request) => request.path.endsWith(".bin"))!.path;
			const twice = (hostile.sent.get(image) ?? 0) - builds(w).v2.length;
			t.true(twice >= 0 && twice <= DEVICE_CHUNK_BYTES + 4321, `${twice} bytes fetched twice`);
		});
});

test.serial("a server that answers every range with 10,000 bytes (a short 206) still delivers the update, each byte once", async (t) => {
	const short: Behaviour = async (exchange, hostile) => {
		const answer = await hostile.upstream(exchange);
		const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(answer.headers["content-range"] ?? "");
		if (answer.status !== 206 || !range)
			return hostile.answer(exchange, answer);
		const start = Number(range[1]), end = Math.min(Number(range[2]), start + 9999);
		await hostile.answer(exchange, { ...answer, headers: { ...answer.headers, "content-range": `bytes ${start}-${end}/${range[3]}` }, body: answer.body.subarray(0, end - start + 1) });
	};
	const w = await world();
	const hostile = await hostileFor(w);
	try {
		const { v1, v2 } = builds(w);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		hostile.behaviour = only(isImage, short);
		await withBoard(w, w.device("short-206", v1, { ...LIMITS, server: hostile.url }), async (board) => {
			await board.waitFor(is("valid", { version: "2.0.0" }), 60000, "v2 confirmed through short ranges");
			t.true(board.events.filter(is("short-range")).length >= 20);
			sound(t, board);
		});
		const image = hostile.requests.find((request) => request.path.endsWith(".bin"))!.path;
		t.is(hostile.sent.get(image), v2.length, "bytes were fetched more than once");
	} finally {
		await hostile.close();
		await w.stop();
	}
});

test.serial("3,900 unclosed brackets under an all-zero signature: refused before parsing, before the update and during its trial", async (t) => {
	const forged = (keyId: string): Behaviour => (exchange, hostile) => {
		const body = Buffer.alloc(3900, 0x5b);
		const head = Buffer.alloc(14);
		head.write("XFM2", 0, "latin1");
		Buffer.from(keyId, "hex").copy(head, 4); // the vendor's key id: only the signature is wrong
		head.writeUInt16BE(body.length, 12);
		return hostile.answer(exchange, { status: 200, headers: { "content-type": "application/octet-stream" }, body: Buffer.concat([head, body, Buffer.alloc(64)]) });
	};
	await attack(t, "deep-nesting", (w) => [
		{ behaviour: only(isManifest, forged(w.keyId)), until: is("reject", { reason: "bad-signature" }), what: "the refused manifest" },
		{ behaviour: undefined, until: is("activate"), what: "the activation" },
		{ behaviour: only(isManifest, forged(w.keyId)), until: is("interrupted", { reason: "server-check-failed" }), what: "the trial's server check, failed and not held against v2" },
	], (board) => {
		t.false(board.events.some((event) => event.type === "none" && event.why === "previously-failed"), "the good release was skipped");
	});
});

test.serial("a report answered with an endless body holds neither the reboot nor the update", async (t) => {
	const endless: Behaviour = async (exchange, hostile) => {
		hostile.writeHead(exchange, 200, { "content-type": "application/json" });
		const junk = Buffer.alloc(16384, 0x20);
		while (await hostile.write(exchange, junk));
	};
	const w = await world();
	const hostile = await hostileFor(w);
	try {
		const { v1, v2 } = builds(w);
		await w.publish({ version: "2.0.0", sequence: 2, securityVersion: 1, image: v2 });
		hostile.behaviour = only(isReport, endless);
		await withBoard(w, w.device("endless-report", v1, { ...LIMITS, server: hostile.url }), async (board) => {
			await board.waitFor(is("valid", { version: "2.0.0" }), 60000, "v2 confirmed");
			const activate = board.events.find(is("activate"))!;
			const reboot = board.events.find((event) => event.type === "reboot" && event.boot === activate.boot)!;
			t.true(reboot.t - activate.t < LIMITS.reportDeadlineSeconds * 1000 + 1500, `the reboot waited ${reboot.t - activate.t} ms for the report`);
			sound(t, board);
		});
	} finally {
		await hostile.close();
		await w.stop();
	}
});
