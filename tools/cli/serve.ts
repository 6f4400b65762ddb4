// xs-fota serve: the management server over HTTPS (tools/server/server.ts), until interrupted. The fleet is kept in
// SQLite (DATA/fleet.db) unless a PostgreSQL URL is given; images are kept once by SHA-256 in DATA/images.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError } from "./errors.js";
import { integerOption, type Command } from "./options.js";
import { UpdateServer } from "../server/server.js";
import { openFleetStore } from "./store-options.js";

export const serve: Command = {
	name: "serve",
	usage: `usage: xs-fota serve --certs DIR [--data DIR] [--database URL] [--host 127.0.0.1] [--port 8443] [--history N]
                     [--max-downloads N] [--quiet]

Runs the management server. --certs is the folder xs-fota init wrote: server.pem and server.key (the server's
certificate) and device-ca.pem (devices must present a certificate it signed: mutual TLS). --data (default
./xs-fota-data) holds fleet.db (SQLite, created at the first start) and images/. --database postgres://... (or the
environment's DATABASE_URL) keeps the fleet in PostgreSQL instead, so that several servers can serve one fleet
(give them one shared images folder). --history is the number of reports kept per device (default 100).
--max-downloads is how many image downloads stream at once (default 100; 0: no limit): more devices are told to
come back later (503 with a Retry-After spread with jitter), first refused, first admitted.
  devices (mutual TLS)   GET  /v1/products/<product>/manifest      GET /v1/products/<product>/<file>
                         POST /v1/devices/<id>/report
  admins (bearer token)  /v1/admin/devices, /v1/admin/products, .../keys, .../releases (docs/server.md)
Make the first admin token with xs-fota admin token create.`,
	options: { certs: { required: true }, data: {}, database: {}, host: {}, port: {}, history: {}, "max-downloads": {}, quiet: { flag: true } },
	async run(values) {
		const files = { cert: join(values.certs!, "server.pem"), key: join(values.certs!, "server.key"), deviceCa: join(values.certs!, "device-ca.pem") };
		for (const path of Object.values(files))
			if (!existsSync(path))
				throw new CliError(`${path} is missing; run xs-fota init --out ${values.certs} first`);
		const data = resolve(values.data ?? "xs-fota-data");
		mkdirSync(data, { recursive: true });
		const store = await openFleetStore(values);
		const quiet = values.quiet === "true";
		const server = new UpdateServer({
			store,
			images: join(data, "images"),
			cert: readFileSync(files.cert),
			key: readFileSync(files.key),
			deviceCa: readFileSync(files.deviceCa),
			host: values.host ?? "127.0.0.1",
			port: values.port === undefined ? 8443 : integerOption("port", values.port, 65535),
			historyLimit: values.history === undefined ? 100 : Math.max(1, integerOption("history", values.history, 100000)),
			maxDownloads: values["max-downloads"] === undefined ? 100 : integerOption("max-downloads", values["max-downloads"], 100000),
			...(quiet ? {} : { log: (line: string) => console.log(line) }),
		});
		let address;
		try {
			address = await server.listen();
		} catch (error) {
			await store.close();
			throw new CliError(`cannot listen: ${(error as Error).message}`);
		}
		console.log(`serving the fleet in ${store.dialect === "sqlite" ? join(data, "fleet.db") : "PostgreSQL"} at ${address.url}`);
		await new Promise<void>((resolve) => {
			for (const signal of ["SIGINT", "SIGTERM"] as const)
				process.once(signal, () => resolve());
		});
		await server.close();
		await store.close();
	},
};
