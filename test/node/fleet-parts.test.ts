// Parts of the fleet simulator: the in-memory flash holds only the sectors written since their erase (a fleet of
// 10,000 must fit), and the Node transport streams, times out on a stall, bounds the response's headers, aborts,
// and counts what it did.
import test from "ava";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { MemoryFlash, Reboot } from "../../tools/fleet/memory-flash.js";
import { FleetCertificates } from "../../tools/fleet/certificates.js";
import { fleetImage, firmwareIn, MIN_FLEET_IMAGE } from "../../tools/fleet/image.js";
import { NodeTransport, RequestLog } from "../../tools/fleet/transport.js";
import { readImage } from "../../tools/sim/image.js";
import { devCertificates } from "./lib/https-fixture.js";
import { bytes } from "./lib/release.js";
import type { Headers } from "../../modules/fota/ports.js";

test("the memory flash keeps only written sectors, frees them on erase, and reads the rest as 0xFF", (t) => {
	const flash = new MemoryFlash({ slotSize: 64 * 1024 });
	const slot = flash.next();
	t.is(flash.residentBytes, 0);
	const data = bytes(10_000, 3);
	for (let at = 0; at < 12_288; at += 4096)
		flash.erase(slot, at, 4096);
	flash.write(slot, 0, data);
	t.is(flash.residentBytes, 3 * 4096);
	t.deepEqual(flash.read(slot, 0, 10_000), data);
	t.deepEqual(flash.read(slot, 10_000, 3000), new Uint8Array(3000).fill(0xff));
	flash.write(slot, 0, new Uint8Array([0x0f])); // NOR: a write only clears bits
	t.is(flash.read(slot, 0, 1)[0], data[0]! & 0x0f);
	flash.erase(slot, 4096, 8192);
	t.is(flash.residentBytes, 4096);
	flash.erase(slot, 0, 4096);
	t.is(flash.residentBytes, 0);
	t.throws(() => flash.write(flash.running(), 0, data), { message: /running slot/ });
	t.throws(() => flash.reboot(), { instanceOf: Reboot });
	let rebooted = "";
	const handled = new MemoryFlash({ onReboot: (reason) => (rebooted = reason) });
	handled.markInvalidAndReboot();
	t.is(rebooted, "invalid");
});

test("a fleet image is a real sim image of the size asked, and a slot's header says which firmware it holds", (t) => {
	const image = fleetImage("2.1.0", 9000);
	t.is(image.length, 9000);
	t.like(readImage(image), { version: "2.1.0", kind: "sim", names: ["main"] });
	t.throws(() => fleetImage("2.1.0", MIN_FLEET_IMAGE - 1));
	const flash = new MemoryFlash();
	const slot = flash.next();
	t.is(firmwareIn(flash, slot), undefined);
	flash.write(slot, 0, image);
	t.deepEqual(firmwareIn(flash, slot), { version: "2.1.0", kind: "sim" });
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string; ca: string }> {
	const { certs } = devCertificates();
	const server = createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, handler);
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { server, url: `https://localhost:${(server.address() as AddressInfo).port}`, ca: readFileSync(certs.ca, "utf8") };
}

function transport(ca: string, log?: RequestLog): NodeTransport {
	const { deviceCa } = devCertificates();
	const certificates = new FleetCertificates({ caCert: deviceCa.cert, caKey: deviceCa.key });
	return new NodeTransport({ ca, clientKey: certificates.key, clientCertificates: certificates.certificate("parts-1") }, log);
}

function fetch(node: NodeTransport, url: string, timeout = 2000, abortAfter?: number): Promise<{ status: number; headers: Headers; body: Buffer; error?: string }> {
	return new Promise((resolve) => {
		let status = 0, headers: Headers = {};
		const chunks: Uint8Array[] = [];
		const request = node.request({ url, timeout }, {
			response(code, h) { status = code; headers = h; },
			data(chunk) { chunks.push(Uint8Array.from(chunk)); },
			done(error) { resolve({ status, headers, body: Buffer.concat(chunks), ...(error !== undefined ? { error } : {}) }); },
		});
		if (abortAfter !== undefined)
			setTimeout(() => request.abort(), abortAfter);
	});
}

test("the Node transport streams a body over one kept connection, and logs each request", async (t) => {
	const body = Buffer.from(bytes(200_000, 8));
	const sockets = new Set<unknown>();
	const { server, url, ca } = await listen((request, response) => {
		sockets.add(request.socket);
		response.writeHead(200, { "content-length": body.length, etag: '"x"' });
		response.end(body);
	});
	const log = new RequestLog();
	const node = transport(ca, log);
	try {
		const first = await fetch(node, `${url}/v1/products/demo/manifest`);
		t.is(first.status, 200);
		t.is(first.headers.etag, '"x"');
		t.true(first.body.equals(body));
		const second = await fetch(node, `${url}/v1/products/demo/1.bin`);
		t.true(second.body.equals(body));
		t.is(sockets.size, 1, "the connection was not kept");
		t.like(log.counts, { manifest: 1, file: 1 });
		t.is(log.checkins, 1); // a manifest is a check-in; an image is not
		t.is(log.perSecond.reduce((a, b) => a + b, 0), 2);
	} finally {
		node.close();
		server.close();
	}
});

test("the Node transport ends a stalled request at its timeout, refuses too many headers, and aborts", async (t) => {
	const { server, url, ca } = await listen((request, response) => {
		if (request.url === "/warm")
			response.end("ok");
		else if (request.url === "/stall") {
			response.writeHead(200, { "content-length": 10 });
			response.write("12345"); // and nothing more
		}
		else if (request.url === "/headers") {
			const headers: Record<string, string> = {};
			for (let i = 0; i < 80; i++)
				headers[`x-${i}`] = "y";
			response.writeHead(200, headers);
			response.end("ok");
		}
		else if (request.url === "/big-header") {
			response.writeHead(200, { "x-big": "z".repeat(9000) });
			response.end("ok");
		}
		else
			setTimeout(() => response.end("late"), 1000);
	});
	const log = new RequestLog();
	const node = transport(ca, log);
	try {
		// the connection first (a handshake on a loaded machine can take more than the stall timeout below)
		t.is((await fetch(node, `${url}/warm`, 10_000)).status, 200);
		const started = performance.now();
		const stalled = await fetch(node, `${url}/stall`, 300);
		t.is(stalled.error, "no data for 300 ms");
		t.is(stalled.body.toString(), "12345");
		t.true(performance.now() - started < 2000);
		t.regex((await fetch(node, `${url}/headers`)).error ?? "", /headers exceed 64 lines/);
		t.truthy((await fetch(node, `${url}/big-header`)).error);
		t.is((await fetch(node, `${url}/slow`, 5000, 100)).error, "aborted");
		t.is(log.failures, 4);
	} finally {
		node.close();
		server.closeAllConnections();
		server.close();
	}
});

test("the Node transport trusts only the CA it was given, and keeps it on every new connection", async (t) => {
	const { server, url, ca } = await listen((request, response) => {
		response.writeHead(200, { "content-length": 2, connection: "close" }); // a new connection for every request
		response.end("ok");
	});
	const { deviceCa } = devCertificates(); // a CA that did not sign the server's certificate
	const stranger = transport(readFileSync(deviceCa.cert, "utf8"));
	const trusting = transport(ca);
	try {
		const refused = await fetch(stranger, `${url}/v1/products/demo/manifest`);
		t.is(refused.status, 0);
		t.regex(refused.error ?? "", /connection to localhost:\d+ failed or was cut \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
		for (let i = 0; i < 3; i++)
			t.is((await fetch(trusting, `${url}/v1/products/demo/manifest`)).status, 200);
		t.is((await fetch(stranger, `${url}/v1/products/demo/manifest`)).status, 0, "a later connection trusted the server");
	} finally {
		stranger.close();
		trusting.close();
		server.close();
	}
});
