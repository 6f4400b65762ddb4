// xs-fota init: a development CA and a server certificate for `xs-fota serve`.
import { CliError } from "./errors.js";
import { makeDevCertificates } from "../server/certificates.js";
import type { Command } from "./options.js";

export const init: Command = {
	name: "init",
	usage: `usage: xs-fota init --out DIR [--hosts localhost,127.0.0.1]

Writes DIR/ca.pem and DIR/ca.key (a development CA), DIR/server.pem and DIR/server.key
(the server's certificate for the given host names and addresses, signed by that CA).
Devices pin DIR/ca.pem from their config. Keys are mode 0600. Never overwrites. Needs openssl.`,
	options: { out: { required: true }, hosts: {} },
	run(values) {
		const hosts = (values.hosts ?? "localhost,127.0.0.1").split(",").map((host) => host.trim()).filter(Boolean);
		if (hosts.length === 0 || hosts.some((host) => !/^[A-Za-z0-9.:-]+$/.test(host)))
			throw new CliError(`--hosts must be a comma-separated list of host names or addresses`);
		try {
			const paths = makeDevCertificates(values.out!, hosts);
			console.log(`CA          ${paths.ca} (put it in the device config)\nCA key      ${paths.caKey} (keep it secret)\ncertificate ${paths.cert} for ${hosts.join(", ")}\nkey         ${paths.key}`);
		} catch (error) {
			throw new CliError((error as Error).message);
		}
	},
};
