// A real update server on loopback with a development CA, for tests that cross the network.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDevCertificates, type DevCertificates } from "../../../tools/server/certificates.js";
import { UpdateServer } from "../../../tools/server/server.js";

export interface Served {
	server: UpdateServer;
	url: string;
	dir: string;
	releases: string;
	certs: DevCertificates;
	caPem: string;
}

let cached: { dir: string; certs: DevCertificates } | undefined;

/** One development CA per test process: openssl takes a moment. */
export function devCertificates(): { dir: string; certs: DevCertificates } {
	if (!cached) {
		const dir = mkdtempSync(join(tmpdir(), "xs-fota-certs-"));
		cached = { dir, certs: makeDevCertificates(dir) };
	}
	return cached;
}

export async function serve(files: Record<string, Uint8Array | string> = {}): Promise<Served> {
	const { certs } = devCertificates();
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-serve-"));
	const releases = join(dir, "releases");
	for (const [path, content] of Object.entries(files)) {
		const full = join(releases, path);
		mkdirSync(join(full, ".."), { recursive: true });
		writeFileSync(full, content);
	}
	mkdirSync(releases, { recursive: true });
	const server = new UpdateServer({ releases, cert: readFileSync(certs.cert), key: readFileSync(certs.key) });
	const { url } = await server.listen();
	return { server, url, dir, releases, certs, caPem: readFileSync(certs.ca, "utf8") };
}
