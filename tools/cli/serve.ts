// xs-fota serve: the update server over HTTPS, until interrupted.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.js";
import { integerOption, type Command } from "./options.js";
import { UpdateServer } from "../server/server.js";

export const serve: Command = {
	name: "serve",
	usage: `usage: xs-fota serve --releases DIR --certs DIR [--host 127.0.0.1] [--port 8443] [--quiet]

Serves DIR/<product>/manifest.xfm and the files beside it (write them with xs-fota sign --out DIR/<product>)
with Range, ETag and If-Range, and takes device check-ins:
  GET  /v1/products/<product>/manifest    GET /v1/products/<product>/<file>
  POST /v1/devices/<id>/report            GET /v1/devices
--certs is the folder written by xs-fota init (server.pem, server.key).`,
	options: { releases: { required: true }, certs: { required: true }, host: {}, port: {}, quiet: { flag: true } },
	async run(values) {
		const cert = join(values.certs!, "server.pem"), key = join(values.certs!, "server.key");
		for (const path of [cert, key])
			if (!existsSync(path))
				throw new CliError(`${path} is missing; run xs-fota init --out ${values.certs} first`);
		if (!existsSync(values.releases!))
			throw new CliError(`${values.releases} does not exist`);
		const quiet = values.quiet === "true";
		const server = new UpdateServer({
			releases: values.releases!,
			cert: readFileSync(cert),
			key: readFileSync(key),
			host: values.host ?? "127.0.0.1",
			port: values.port === undefined ? 8443 : integerOption("port", values.port, 65535),
			...(quiet ? {} : { log: (line: string) => console.log(line) }),
		});
		let address;
		try {
			address = await server.listen();
		} catch (error) {
			throw new CliError(`cannot listen: ${(error as Error).message}`);
		}
		console.log(`serving ${values.releases} at ${address.url}`);
		await new Promise<void>((resolve) => {
			for (const signal of ["SIGINT", "SIGTERM"] as const)
				process.once(signal, () => resolve());
		});
		await server.close();
	},
};
