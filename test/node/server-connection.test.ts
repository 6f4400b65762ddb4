// A device's identity per connection at the management server (tools/server/server.ts certifiedDevice): the client
// certificate is read once per TLS connection, not at every request on it, and a connection's certificate cannot
// change under that reading: a TLS 1.2 renegotiation (in which a client could present another certificate) is refused
// and the connection closed. Over real HTTPS (Node's agent with keep-alive) and openssl s_client (which renegotiates
// on "R").
import test from "ava";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "./lib/https-fixture.js";
import { manifestPath } from "../../modules/fota/protocol.js";

let reads = 0;
const getPeerCertificate = TLSSocket.prototype.getPeerCertificate;
TLSSocket.prototype.getPeerCertificate = function (this: TLSSocket, ...args: unknown[]) {
	if ((this as { server?: unknown }).server) // the server's side of a connection, not a client's look at the server's certificate
		reads++;
	return (getPeerCertificate as (...a: unknown[]) => ReturnType<typeof getPeerCertificate>).apply(this, args);
} as typeof getPeerCertificate;

test.serial("three requests on one connection read the device's certificate once; a new connection reads it again", async (t) => {
	const served = await serve(new Uint8Array(500).fill(3));
	t.teardown(() => served.close());
	const identity = served.identity("dev-k");
	const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: served.caPem, key: identity.clientKey, cert: identity.clientCertificates });
	t.teardown(() => agent.destroy());
	const sockets = new Set<unknown>();
	const get = () => new Promise<number>((resolve, reject) => {
		const outgoing = request(`${served.url}${manifestPath("demo")}`, { agent, headers: { "x-fota-version": "1.0.0" } }, (response) => {
			sockets.add(response.socket);
			response.resume();
			response.on("end", () => resolve(response.statusCode ?? 0));
		});
		outgoing.on("error", reject);
		outgoing.end();
	});
	reads = 0;
	for (let i = 0; i < 3; i++)
		t.is(await get(), 200);
	t.is(sockets.size, 1, "one connection");
	t.is(reads, 1, "the certificate read at the first request only");
	t.is((await served.store.device("dev-k"))?.version, "1.0.0", "the requests were the device's");
	agent.destroy();
	t.is(await get(), 200);
	t.is(reads, 2, "a new connection: read again");
});

test.serial("a renegotiation after a request is refused: the connection closes, and no request is answered on it again", async (t) => {
	const served = await serve(new Uint8Array(500).fill(3));
	t.teardown(() => served.close());
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-reneg-"));
	const identity = served.identity("dev-r");
	writeFileSync(join(dir, "ca.pem"), served.caPem);
	writeFileSync(join(dir, "device.pem"), identity.clientCertificates);
	writeFileSync(join(dir, "device.key"), identity.clientKey, { mode: 0o600 });
	const port = new URL(served.url).port;
	const child = spawn("openssl", ["s_client", "-tls1_2", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", "-CAfile", join(dir, "ca.pem"),
		"-cert", join(dir, "device.pem"), "-key", join(dir, "device.key")], { stdio: ["pipe", "pipe", "pipe"] });
	let out = "";
	child.stdout.on("data", (chunk) => { out += chunk; });
	child.stderr.on("data", (chunk) => { out += chunk; });
	const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
	const until = async (test: () => boolean, ms: number) => {
		for (const end = Date.now() + ms; !test() && Date.now() < end; )
			await new Promise((resolve) => setTimeout(resolve, 20));
		return test();
	};
	const poll = `GET ${manifestPath("demo")} HTTP/1.1\r\nHost: localhost\r\nx-fota-version: 1.0.0\r\n\r\n`;
	t.true(await until(() => out.includes("Verify return code"), 10000), out);
	child.stdin.write(poll);
	t.true(await until(() => out.includes("HTTP/1.1 200"), 10000), "the first request is answered");
	child.stdin.write("R\n"); // s_client: renegotiate
	await until(() => child.exitCode !== null, 3000);
	if (child.exitCode === null)
		child.stdin.write(poll);
	const closed = await until(() => child.exitCode !== null, 3000);
	child.kill();
	await exited;
	t.true(closed, "the server closed the connection");
	t.is(out.split("HTTP/1.1 200").length - 1, 1, `one answer only: ${out.slice(-400)}`);
});
