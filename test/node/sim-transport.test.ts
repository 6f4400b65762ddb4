// The sim host's HTTPS transport (libcurl in the XS event loop) against the real update server, and against a
// Node https server that requires mutual TLS: the device presents the key and certificate from its config.
// The mutual-TLS tests run one at a time, with a long connect timeout: each judges how a handshake ends, and under a
// loaded CI the file's other tests (hosts, servers, key generation) starved one into libcurl's connect timeout.
import test from "ava";
import { createHash, X509Certificate } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runHost, runModuleAsync } from "./lib/run-host.js";
import { devCertificates, serve } from "./lib/https-fixture.js";
import { cutImageOnce, HostileServer } from "../e2e/hostile.js";
import { makeDevCertificates, makeDeviceCa, makeDeviceCertificate } from "../../tools/server/certificates.js";
import { readFileSync } from "node:fs";
import { bytes } from "./lib/release.js";

const IMAGE = bytes(300_000, 9);

/** Writes an XS module that makes one request and traces every event as a JSON line. */
function requestModule(options: Record<string, unknown>): string {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-transport-"));
	const file = join(dir, "request.js");
	writeFileSync(file, `
import { SimTransport } from "sim/fota/transport";
import SHA256 from "crypto/sha256";
const options = ${JSON.stringify(options)};
const sha = new SHA256();
let length = 0;
const transport = new SimTransport(options.identity ?? { ca: options.ca }, 4096);
await new Promise((resolve) => {
	transport.request(options.request, {
		response(status, headers) { trace(JSON.stringify({ event: "response", status, headers }) + "\\n"); },
		data(chunk) { length += chunk.length; sha.update(chunk); },
		done(error) {
			const hex = Array.from(new Uint8Array(sha.digest()), (b) => b.toString(16).padStart(2, "0")).join("");
			trace(JSON.stringify({ event: "done", error, length, sha256: hex }) + "\\n");
			resolve();
		},
	});
});
`);
	return file;
}

function events(stdout: string): any[] {
	return stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

test("a ranged GET over HTTPS with the pinned CA returns 206 and the right bytes", async (t) => {
	const served = await serve(IMAGE);
	try {
		const run = await runModuleAsync(requestModule({ identity: served.identity("dev-1"), request: { url: `${served.url}/v1/products/demo/1.bin`, headers: [["Range", "bytes=1000-"]], timeout: 5000 } }));
		t.is(run.status, 0, run.stderr);
		const [response, done] = events(run.stdout);
		t.is(response.status, 206);
		t.is(response.headers["content-range"], `bytes 1000-${IMAGE.length - 1}/${IMAGE.length}`);
		t.truthy(response.headers.etag);
		t.is(done.error, undefined);
		t.is(done.length, IMAGE.length - 1000);
		t.is(done.sha256, createHash("sha256").update(IMAGE.subarray(1000)).digest("hex"));
	} finally {
		await served.close();
	}
});

test("a server whose certificate the pinned CA did not sign is refused, and no body is delivered", async (t) => {
	const served = await serve(IMAGE);
	const other = makeDevCertificates(mkdtempSync(join(tmpdir(), "xs-fota-other-ca-")));
	try {
		const run = await runModuleAsync(requestModule({ identity: { ...served.identity("dev-1"), ca: readFileSync(other.ca, "utf8") }, request: { url: `${served.url}/v1/products/demo/1.bin`, timeout: 5000 } }));
		t.is(run.status, 0, run.stderr);
		const all = events(run.stdout);
		t.is(all.length, 1, "a response arrived from an untrusted server");
		t.regex(all[0].error, /certificate|SSL/i);
		t.is(all[0].length, 0);
		t.is(served.server.sent.size, 0);
	} finally {
		await served.close();
	}
});

test("plain http:// is refused by the transport", (t) => {
	const run = runHost(requestModule({ ca: "-----BEGIN CERTIFICATE-----", request: { url: "http://localhost:1/x", timeout: 1000 } }));
	t.not(run.status, 0);
	t.regex(run.stderr, /only https:\/\/ URLs are allowed/);
});

test("a POST check-in over mutual TLS reaches the fleet store, under the certificate's device id", async (t) => {
	const served = await serve();
	try {
		const body = JSON.stringify({ deviceId: "dev-7", product: "demo", version: "1.2.3", state: "valid" });
		const run = await runModuleAsync(requestModule({ identity: served.identity("dev-7"), request: { url: `${served.url}/v1/devices/dev-7/report`, method: "POST", headers: [["Content-Type", "application/json"]], body, timeout: 5000 } }));
		t.is(run.status, 0, run.stderr);
		t.is(events(run.stdout)[0].status, 204);
		t.like(await served.store.device("dev-7"), { version: "1.2.3", state: "valid", reports: 1 });
	} finally {
		await served.close();
	}
});

test("a link cut mid-body ends the request with an error after the bytes that arrived", async (t) => {
	const served = await serve(IMAGE);
	const { certs } = devCertificates();
	const hostile = new HostileServer({ upstream: served.url, ca: served.caPem, cert: readFileSync(certs.cert), key: readFileSync(certs.key),
		identity: (id) => { const made = served.identity(id); return { key: made.clientKey, cert: made.clientCertificates }; } });
	await hostile.listen();
	hostile.behaviour = cutImageOnce(100_000);
	try {
		const run = await runModuleAsync(requestModule({ identity: served.identity("dev-1"), request: { url: `${hostile.url}/v1/products/demo/1.bin`, timeout: 5000 } }));
		t.is(run.status, 0, run.stderr);
		const done = events(run.stdout).at(-1);
		t.truthy(done.error);
		t.is(done.length, 100_000);
	} finally {
		await hostile.close();
		await served.close();
	}
});

/** A server that asks every client for a certificate and refuses, inside the handshake, one that the device CA
 * did not sign or none at all; it answers with the CN it saw. */
async function mutualServer(deviceCa: string): Promise<{ server: Server; url: string; seen: string[]; refused: string[] }> {
	const { certs } = devCertificates();
	const seen: string[] = [], refused: string[] = [];
	const server = createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key), ca: deviceCa, requestCert: true, rejectUnauthorized: true },
		(request, response) => {
			const peer = (request.socket as TLSSocket).getPeerCertificate();
			seen.push(String(peer.subject?.CN));
			response.end(JSON.stringify({ cn: peer.subject?.CN }));
		});
	server.on("tlsClientError", (error) => refused.push(error.message));
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { server, url: `https://localhost:${(server.address() as AddressInfo).port}`, seen, refused };
}

let deviceCaCache: { cert: string; key: string } | undefined;
function deviceCa(): { cert: string; key: string } {
	if (!deviceCaCache) {
		const paths = makeDeviceCa(mkdtempSync(join(tmpdir(), "xs-fota-device-ca-")));
		deviceCaCache = { cert: readFileSync(paths.cert, "utf8"), key: readFileSync(paths.key, "utf8") };
	}
	return deviceCaCache;
}

test.serial("mutual TLS: a device that presents its key and certificate is let in, and the server sees its id as CN", async (t) => {
	const ca = deviceCa();
	const mutual = await mutualServer(ca.cert);
	const caPem = readFileSync(devCertificates().certs.ca, "utf8");
	const identity = makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "dev-42" });
	try {
		const run = await runModuleAsync(requestModule({ identity: { ca: caPem, clientKey: identity.key, clientCertificates: identity.cert }, request: { url: `${mutual.url}/whoami`, timeout: 15000 } }));
		t.is(run.status, 0, run.stderr);
		const [response, done] = events(run.stdout);
		t.is(response.status, 200);
		t.is(done.error, undefined);
		t.is(done.sha256, createHash("sha256").update(JSON.stringify({ cn: "dev-42" })).digest("hex"));
		t.deepEqual(mutual.seen, ["dev-42"]);
		t.deepEqual(mutual.refused, []);
	} finally {
		await new Promise((resolve) => mutual.server.close(resolve));
	}
});

test.serial("mutual TLS: a device without an identity fails in the handshake, and says so", async (t) => {
	const mutual = await mutualServer(deviceCa().cert);
	try {
		const run = await runModuleAsync(requestModule({ ca: readFileSync(devCertificates().certs.ca, "utf8"), request: { url: `${mutual.url}/whoami`, timeout: 15000 } }));
		t.is(run.status, 0, run.stderr);
		const all = events(run.stdout);
		t.is(all.length, 1, "a response arrived without a client certificate");
		t.regex(all[0].error, /^TLS handshake failed: .*alert handshake failure/);
		t.is(all[0].length, 0);
		t.deepEqual(mutual.seen, []);
		t.regex(mutual.refused.join("\n"), /peer did not return a certificate/);
	} finally {
		await new Promise((resolve) => mutual.server.close(resolve));
	}
});

test.serial("mutual TLS: a certificate from another CA, even with the same device id, is refused in the handshake", async (t) => {
	const mutual = await mutualServer(deviceCa().cert);
	const otherPaths = makeDeviceCa(mkdtempSync(join(tmpdir(), "xs-fota-other-device-ca-")));
	const forged = makeDeviceCertificate({ caCert: otherPaths.cert, caKey: otherPaths.key, deviceId: "dev-42" });
	t.is(new X509Certificate(forged.cert).subject, "CN=dev-42");
	t.false(new X509Certificate(forged.cert).checkIssued(new X509Certificate(deviceCa().cert)));
	try {
		const run = await runModuleAsync(requestModule({ identity: { ca: readFileSync(devCertificates().certs.ca, "utf8"), clientKey: forged.key, clientCertificates: forged.cert }, request: { url: `${mutual.url}/whoami`, timeout: 15000 } }));
		t.is(run.status, 0, run.stderr);
		const all = events(run.stdout);
		t.is(all.length, 1, "a response arrived for a certificate from another CA");
		// Node checks the chain after OpenSSL's handshake and hangs up without an alert: the device can tell only
		// that the handshake did not finish
		t.regex(all[0].error, /^TLS handshake failed: /);
		t.is(all[0].length, 0);
		t.deepEqual(mutual.seen, []);
		t.is(mutual.refused.length, 1, "the server did not refuse the connection");
		// and it was the certificate that was refused, not its absence (which ends with an alert, as above)
		t.notRegex(mutual.refused[0], /did not return a certificate/);
		t.notRegex(all[0].error, /alert handshake failure/);
	} finally {
		await new Promise((resolve) => mutual.server.close(resolve));
	}
});

test("mutual TLS: a key without its certificate is refused before any connection", (t) => {
	const identity = makeDeviceCertificate({ caCert: deviceCa().cert, caKey: deviceCa().key, deviceId: "dev-1" });
	const run = runHost(requestModule({ identity: { ca: "-----BEGIN CERTIFICATE-----", clientKey: identity.key }, request: { url: "https://localhost:1/x", timeout: 1000 } }));
	t.not(run.status, 0);
	t.regex(run.stderr, /a client key needs its certificates/);
});

test("mutual TLS from the device config: the sim's ports give the transport the config's clientKey and clientCertificates", async (t) => {
	const ca = deviceCa();
	const mutual = await mutualServer(ca.cert);
	const identity = makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "dev-ports" });
	const config = { deviceId: "dev-ports", product: "demo", server: mutual.url, ca: readFileSync(devCertificates().certs.ca, "utf8"),
		keys: [{ keyId: "9a2db2e23f1504cd", publicKey: "ab".repeat(32) }], clientKey: identity.key, clientCertificates: identity.cert };
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-ports-"));
	const file = join(dir, "ports.js");
	writeFileSync(file, `
import { parseDeviceConfig } from "fota/config";
import { targetPorts } from "fota-target";
import SHA256 from "crypto/sha256";
const config = parseDeviceConfig(${JSON.stringify(config)}, (data) => new Uint8Array(SHA256.hash(data)));
await new Promise((resolve) => {
	targetPorts(config).transport.request({ url: config.server + "/whoami", timeout: 5000 }, {
		response(status) { trace(JSON.stringify({ event: "response", status }) + "\\n"); },
		data() {},
		done(error) { trace(JSON.stringify({ event: "done", error }) + "\\n"); resolve(); },
	});
});
`);
	try {
		const run = await runModuleAsync(file);
		t.is(run.status, 0, run.stderr);
		t.deepEqual(events(run.stdout), [{ event: "response", status: 200 }, { event: "done" }]);
		t.deepEqual(mutual.seen, ["dev-ports"]);
	} finally {
		await new Promise((resolve) => mutual.server.close(resolve));
	}
});

test("a chunk is valid only during sink.data: the transport refills one buffer, so a sink that keeps a chunk without copying sees it overwritten", async (t) => {
	const served = await serve(IMAGE);
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-transport-"));
	const file = join(dir, "keep.js");
	writeFileSync(file, `
import { SimTransport } from "sim/fota/transport";
const options = ${JSON.stringify({ identity: served.identity("dev-1"), request: { url: `${served.url}/v1/products/demo/1.bin`, timeout: 5000 } })};
const transport = new SimTransport(options.identity, 4096);
let kept, copy, pieces = 0, buffers = new Set(), length = 0;
await new Promise((resolve) => {
	transport.request(options.request, {
		response() {},
		data(chunk) {
			if (!kept && chunk.buffer.byteLength === 4096) { kept = chunk; copy = chunk.slice(); } // in the chunk-sized buffer
			buffers.add(chunk.buffer);
			pieces++;
			length += chunk.length;
		},
		done(error) {
			let same = kept.length === copy.length;
			for (let i = 0; same && i < copy.length; i++)
				same = kept[i] === copy[i];
			trace(JSON.stringify({ error, pieces, buffers: buffers.size, length, keptUnchanged: same }) + "\\n");
			resolve();
		},
	});
});
`);
	try {
		const run = await runModuleAsync(file);
		t.is(run.status, 0, run.stderr);
		const [done] = events(run.stdout);
		t.is(done.error, undefined);
		t.is(done.length, IMAGE.length);
		t.true(done.pieces >= IMAGE.length / 4096, `${done.pieces} pieces`);
		// the transport's one buffer, of the chunk size: never one per piece
		t.is(done.buffers, 1, `${done.buffers} buffers for ${done.pieces} pieces`);
		t.false(done.keptUnchanged, "a chunk kept without a copy still held its bytes after the body");
	} finally {
		await served.close();
	}
});

test("the requests of one transport share one TLS connection, and resume the session when the server closed it", async (t) => {
	const served = await serve(IMAGE);
	const hostile = new HostileServer({ upstream: served.url, ca: served.caPem, cert: readFileSync(served.certs.cert), key: readFileSync(served.certs.key),
		identity: (deviceId) => { const made = served.identity(deviceId); return { key: made.clientKey, cert: made.clientCertificates }; } });
	await hostile.listen();
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-transport-"));
	const file = join(dir, "three.js");
	writeFileSync(file, `
import { SimTransport } from "sim/fota/transport";
const options = ${JSON.stringify({ identity: served.identity("dev-1"), urls: [served.url, hostile.url].map((base) => `${base}/v1/products/demo/1.bin`) })};
const transport = new SimTransport(options.identity, 4096);
for (const url of options.urls) {
	for (let i = 0; i < 3; i++) {
		await new Promise((resolve) => {
			let length = 0;
			transport.request({ url, headers: [["Range", "bytes=0-99"]], timeout: 5000 }, {
				response() {},
				data(chunk) { length += chunk.length; },
				done(error) { trace(JSON.stringify({ error, length }) + "\\n"); resolve(); },
			});
		});
	}
}
`);
	try {
		const run = await runModuleAsync(file);
		t.is(run.status, 0, run.stderr);
		t.deepEqual(events(run.stdout), Array(6).fill({ length: 100 }));
		// the real server keeps the connection alive: one handshake for three requests (the hostile server's own
		// connections to it pass each request on, with their own handshakes: counted apart below)
		t.is(hostile.tls.handshakes, 1, "a server that closes after every response: one full handshake ...");
		t.is(hostile.tls.resumptions, 2, "... and the next two connections resumed the session");
		t.is(served.server.tls.resumptions, 0);
		t.is(served.server.tls.handshakes, 1 + 3, "one handshake for the device's three requests, three for the hostile server's (agent: false)");
	} finally {
		await hostile.close();
		await served.close();
	}
});

test("every request of a transport is handed the transport's one buffer: a short body (a 404) and an image alike, no buffer per request", async (t) => {
	const served = await serve(IMAGE);
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-transport-"));
	const file = join(dir, "short.js");
	writeFileSync(file, `
import { SimTransport } from "sim/fota/transport";
const options = ${JSON.stringify({ identity: served.identity("dev-1"), urls: ["manifest", "1.bin", "manifest"].map((name) => `${served.url}/v1/products/demo/${name}`) })};
const transport = new SimTransport(options.identity, 4096);
const buffers = [];
for (const url of options.urls) {
	const sizes = [];
	await new Promise((resolve) => {
		transport.request({ url, timeout: 5000 }, {
			response() {},
			data(chunk) {
				if (!buffers.includes(chunk.buffer))
					buffers.push(chunk.buffer);
				sizes.push([chunk.length, chunk.buffer.byteLength, chunk.byteOffset]);
			},
			done(error) { trace(JSON.stringify({ error, sizes, buffers: buffers.length }) + "\\n"); resolve(); },
		});
	});
}
`);
	try {
		const run = await runModuleAsync(file);
		t.is(run.status, 0, run.stderr);
		const [first, image, last] = events(run.stdout);
		for (const done of [first, image, last])
			t.is(done.error, undefined);
		t.is(first.sizes.length, 1);
		const [[length, capacity, offset]] = first.sizes;
		t.true(length > 0 && length < 4096, `${length} bytes`);
		t.is(capacity, 4096);
		t.is(offset, 0);
		t.is(image.sizes.reduce((sum: number, [piece]: number[]) => sum + piece, 0), IMAGE.length);
		t.true(image.sizes.every(([piece, size, at]: number[]) => piece <= 4096 && size === 4096 && at === 0));
		t.deepEqual(last.sizes, first.sizes);
		t.is(last.buffers, 1, "three requests, one buffer");
	} finally {
		await served.close();
	}
});

/** A server (mutual TLS) that answers with the request's header lines as it received them. */
async function headersServer(): Promise<{ server: Server; url: string; seen: string[][] }> {
	const ca = deviceCa();
	const { certs } = devCertificates();
	const seen: string[][] = [];
	const server = createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key), ca: ca.cert, requestCert: true, rejectUnauthorized: true },
		(request, response) => {
			seen.push(request.rawHeaders);
			response.end("ok");
		});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { server, url: `https://localhost:${(server.address() as AddressInfo).port}`, seen };
}

test("no Accept header unless the caller names one: libcurl's default (13 bytes of every poll) is not sent", async (t) => {
	const ca = deviceCa();
	const caPem = readFileSync(devCertificates().certs.ca, "utf8");
	const made = makeDeviceCertificate({ caCert: ca.cert, caKey: ca.key, deviceId: "dev-accept" });
	const identity = { ca: caPem, clientKey: made.key, clientCertificates: made.cert };
	const served = await headersServer();
	try {
		const names = (raw: string[]) => raw.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
		for (const headers of [undefined, [["X-Probe", "1"]]]) {
			const run = await runModuleAsync(requestModule({ identity, request: { url: `${served.url}/poll`, timeout: 5000, ...(headers ? { headers } : {}) } }));
			t.is(run.status, 0, run.stderr);
			t.is(events(run.stdout)[0].status, 200);
		}
		const [bare, probed] = served.seen;
		t.false(names(bare).includes("accept"), `sent: ${bare.join(" ")}`);
		t.deepEqual(names(probed).filter((name) => name !== "host" && name !== "user-agent"), ["x-probe"]); // the caller's header goes, alone
		// a caller that names an Accept gets exactly that one
		const run = await runModuleAsync(requestModule({ identity, request: { url: `${served.url}/poll`, timeout: 5000, headers: [["Accept", "application/octet-stream"]] } }));
		t.is(run.status, 0, run.stderr);
		const named = served.seen[2];
		t.deepEqual(named.filter((_, i) => i % 2 === 0 && named[i].toLowerCase() === "accept").length, 1);
		t.is(named[named.findIndex((name, i) => i % 2 === 0 && name.toLowerCase() === "accept") + 1], "application/octet-stream");
	} finally {
		await new Promise((resolve) => served.server.close(resolve));
	}
});
