// xs-fota init: a development CA and a server certificate for `xs-fota serve`, and a separate CA for devices'
// own certificates (mutual TLS: `xs-fota provision --device-ca` signs each device's with it).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.js";
import { makeDevCertificates, makeDeviceCa } from "../server/certificates.js";
import type { Command } from "./options.js";

export const init: Command = {
	name: "init",
	usage: `usage: xs-fota init --out DIR [--hosts localhost,127.0.0.1]

Writes DIR/ca.pem and DIR/ca.key (a development CA), DIR/server.pem and DIR/server.key
(the server's certificate for the given host names and addresses, signed by that CA), and
DIR/device-ca.pem and DIR/device-ca.key (a separate CA that signs devices' certificates:
\`xs-fota provision --device-ca DIR\` gives each device its own key and certificate, which it presents
to the server; a server that requires mutual TLS trusts DIR/device-ca.pem for its clients).
Devices pin DIR/ca.pem from their config. Keys are mode 0600. Never overwrites. Needs openssl.`,
	options: { out: { required: true }, hosts: {} },
	run(values) {
		const hosts = (values.hosts ?? "localhost,127.0.0.1").split(",").map((host) => host.trim()).filter(Boolean);
		if (hosts.length === 0 || hosts.some((host) => !/^[A-Za-z0-9.:-]+$/.test(host)))
			throw new CliError(`--hosts must be a comma-separated list of host names or addresses`);
		const out = values.out!;
		// every file is checked before any is made: a refusal leaves the folder as it was
		for (const name of ["ca.pem", "ca.key", "server.pem", "server.key", "device-ca.pem", "device-ca.key"])
			if (existsSync(join(out, name)))
				throw new CliError(`${join(out, name)} exists; refusing to overwrite it`);
		try {
			const paths = makeDevCertificates(out, hosts);
			const device = makeDeviceCa(out);
			const lines: [string, string][] = [
				["CA", `${paths.ca} (put it in the device config)`],
				["CA key", `${paths.caKey} (keep it secret)`],
				["certificate", `${paths.cert} for ${hosts.join(", ")}`],
				["key", paths.key],
				["device CA", `${device.cert} (signs devices' certificates: xs-fota provision --device-ca ${out}; a server that requires mutual TLS trusts it for its clients)`],
				["device CA key", `${device.key} (keep it secret)`],
			];
			console.log(lines.map(([label, text]) => `${label.padEnd(14)}${text}`).join("\n"));
		} catch (error) {
			throw new CliError((error as Error).message);
		}
	},
};
