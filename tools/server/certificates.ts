// A development CA and a server certificate signed by it, made with the openssl command.
// The device pins this CA from its config; nothing else is trusted.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface DevCertificates {
	ca: string;
	caKey: string;
	cert: string;
	key: string;
}

function openssl(args: string[], cwd: string): void {
	try {
		execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
	} catch (error: any) {
		throw new Error(`openssl ${args[0]} failed: ${String(error.stderr ?? error.message).trim()}`);
	}
}

/** Writes ca.pem, ca.key, server.pem and server.key into dir; refuses to overwrite. hosts go into subjectAltName. */
export function makeDevCertificates(dir: string, hosts: string[] = ["localhost", "127.0.0.1"], days = 825): DevCertificates {
	const paths = { ca: join(dir, "ca.pem"), caKey: join(dir, "ca.key"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
	for (const path of Object.values(paths))
		if (existsSync(path))
			throw new Error(`${path} exists; refusing to overwrite it`);
	mkdirSync(dir, { recursive: true });
	const work = mkdtempSync(join(tmpdir(), "xs-fota-ca-"));
	try {
		const san = hosts.map((host) => (/^[\d.]+$/.test(host) || host.includes(":") ? `IP:${host}` : `DNS:${host}`)).join(",");
		writeFileSync(join(work, "server.ext"), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
		openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"], work);
		openssl(["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", String(days), "-subj", "/CN=xs-fota development CA",
			"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem"], work);
		openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key"], work);
		openssl(["req", "-new", "-key", "server.key", "-subj", `/CN=${hosts[0]}`, "-out", "server.csr"], work);
		openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", String(days),
			"-sha256", "-extfile", "server.ext", "-out", "server.pem"], work);
		// server.pem is the full chain, leaf then CA: Moddable's TLS checks the server name (subjectAltName) only on a
		// certificate that the chain's next one signs, so a lone leaf never matches (modules/crypt/ssl/ssl_cert.js).
		writeFileSync(join(work, "server.pem"), readFileSync(join(work, "server.pem"), "utf8") + readFileSync(join(work, "ca.pem"), "utf8"));
		for (const name of ["ca.pem", "ca.key", "server.pem", "server.key"] as const) {
			const target = join(dir, name);
			execFileSync("cp", [join(work, name), target]);
			if (name.endsWith(".key"))
				chmodSync(target, 0o600);
		}
	} finally {
		rmSync(work, { recursive: true, force: true });
	}
	return paths;
}
