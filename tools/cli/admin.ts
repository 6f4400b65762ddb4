// The admin commands: `admin token create` opens the fleet store itself (the first token cannot come from the API);
// the others are clients of the server's admin API (tools/server/server.ts, /v1/admin/...) over HTTPS, trusting only
// the given CA, with a bearer token: --server, --ca and --token, or XSFOTA_SERVER, XSFOTA_CA and XSFOTA_TOKEN.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { CliError, USAGE } from "./errors.js";
import { integerOption, type Command } from "./options.js";
import { openFleetStore } from "./store-options.js";
import { readPublicKey } from "./keys.js";
import { splitEnvelope } from "../../modules/fota/envelope.js";

export const CLIENT_OPTIONS = { server: {}, ca: {}, token: {}, wait: {} } as const;
export const CLIENT_USAGE = `--server URL, --ca FILE (the CA that signed the server's certificate: certs/ca.pem) and --token T
(from xs-fota admin token create) default to XSFOTA_SERVER, XSFOTA_CA and XSFOTA_TOKEN. --wait S waits up to S
seconds for the server to answer (one that is starting).`;

interface Answer { status: number; body: any }

/** A client of the admin API: (method, path, body?) → the answer's JSON, or a CliError with the server's reason. */
export function client(values: Record<string, string | undefined>) {
	const server = values.server ?? process.env.XSFOTA_SERVER;
	const caFile = values.ca ?? process.env.XSFOTA_CA;
	const token = values.token ?? process.env.XSFOTA_TOKEN;
	if (!server || !/^https:\/\/[^/]+$/.test(server.replace(/\/$/, "")))
		throw new CliError("--server (or XSFOTA_SERVER) must be the server's https:// URL", USAGE);
	if (!caFile)
		throw new CliError("--ca (or XSFOTA_CA) must name the CA that signed the server's certificate", USAGE);
	if (!token)
		throw new CliError("--token (or XSFOTA_TOKEN) is needed: make one with xs-fota admin token create", USAGE);
	let ca: Buffer;
	try {
		ca = readFileSync(caFile);
	} catch (error) {
		throw new CliError(`cannot read the CA ${caFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
	}
	const waitMs = values.wait === undefined ? 0 : integerOption("wait", values.wait, 600) * 1000;
	const base = server.replace(/\/$/, "");
	const once = (method: string, path: string, body?: unknown) => new Promise<Answer>((resolve, reject) => {
		const json = body === undefined ? undefined : JSON.stringify(body);
		const outgoing = request(`${base}${path}`, {
			method, ca, headers: { authorization: `Bearer ${token}`, ...(json !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(json) } : {}) },
		}, (response) => {
			const chunks: Buffer[] = [];
			response.on("data", (chunk: Buffer) => chunks.push(chunk));
			response.on("end", () => {
				const text = Buffer.concat(chunks).toString("utf8");
				let parsed: unknown = undefined;
				try {
					parsed = text ? JSON.parse(text) : undefined;
				} catch {
					parsed = text;
				}
				resolve({ status: response.statusCode ?? 0, body: parsed });
			});
			response.on("error", reject);
		});
		outgoing.on("error", reject);
		outgoing.end(json);
	});
	return async (method: string, path: string, body?: unknown): Promise<any> => {
		const deadline = Date.now() + waitMs;
		for (;;) {
			let answer: Answer;
			try {
				answer = await once(method, path, body);
			} catch (error) {
				const code = (error as NodeJS.ErrnoException).code;
				if ((code === "ECONNREFUSED" || code === "ECONNRESET") && Date.now() < deadline) {
					await new Promise((resolve) => setTimeout(resolve, 200));
					continue;
				}
				throw new CliError(`cannot reach ${base}: ${(error as Error).message}`);
			}
			if (answer.status >= 200 && answer.status < 300)
				return answer.body;
			const why = typeof answer.body === "object" && answer.body ? `${answer.body.error}${answer.body.detail ? `: ${answer.body.detail}` : ""}` : String(answer.body);
			throw new CliError(`the server refused (${answer.status}): ${why}`);
		}
	};
}

export const show = (value: unknown) => console.log(JSON.stringify(value, null, 2));

/** A file the command reads, or a CliError naming it and what failed. */
export function readInput(path: string, what: string): Buffer {
	try {
		return readFileSync(path);
	} catch (error) {
		throw new CliError(`cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
	}
}

const tokenCreate: Command = {
	name: "admin token create",
	usage: `usage: xs-fota admin token create --name NAME [--data DIR] [--database URL]

Makes an admin API token and prints it on stdout, once: the fleet store keeps only its SHA-256. Opens the store
that xs-fota serve uses (the same --data or --database / DATABASE_URL), so it works before the server starts.`,
	options: { name: { required: true }, data: {}, database: {} },
	async run(values) {
		if (!/^[\x21-\x7e ]{1,64}$/.test(values.name!))
			throw new CliError("--name must be 1 to 64 printable ASCII characters", USAGE);
		const store = await openFleetStore(values);
		try {
			const { id, token } = await store.createToken(values.name!, new Date());
			console.error(`token ${id} (${values.name}) made; it is shown once:`);
			console.log(token);
		} finally {
			await store.close();
		}
	},
};

const productsAdd: Command = {
	name: "products add",
	positionals: ["product"],
	usage: `usage: xs-fota products add PRODUCT [--server URL] [--ca FILE] [--token T] [--wait S]

Adds a product (idempotent). ${CLIENT_USAGE}`,
	options: { ...CLIENT_OPTIONS },
	async run(values) {
		show(await client(values)("POST", "/v1/admin/products", { product: values.product }));
	},
};

const productsList: Command = {
	name: "products list",
	usage: `usage: xs-fota products list [--server URL] [--ca FILE] [--token T]\n\n${CLIENT_USAGE}`,
	options: { ...CLIENT_OPTIONS },
	async run(values) {
		show(await client(values)("GET", "/v1/admin/products"));
	},
};

const keysAdd: Command = {
	name: "keys add",
	usage: `usage: xs-fota keys add --product P --pub K.pub [--role firmware|config] [--server URL] [--ca FILE] [--token T]

Trusts a signing key (a .pub written by xs-fota keygen) for the product: with --role firmware (the default) it signs
releases, with --role config it signs config documents (xs-fota config sign). A key has one role. ${CLIENT_USAGE}`,
	options: { product: { required: true }, pub: { required: true }, role: {}, ...CLIENT_OPTIONS },
	async run(values) {
		const role = values.role ?? "firmware";
		if (role !== "firmware" && role !== "config")
			throw new CliError(`--role must be firmware (signs releases) or config (signs config documents), not ${JSON.stringify(role)}`, USAGE);
		const key = readPublicKey(values.pub!);
		show(await client(values)("POST", `/v1/admin/products/${encodeURIComponent(values.product!)}/keys`,
			{ keyId: key.keyId, publicKey: Buffer.from(key.publicKey).toString("hex"), role }));
	},
};

const publish: Command = {
	name: "publish",
	usage: `usage: xs-fota publish --manifest M.xfm --image FILE [--product P] [--staged] [--server URL] [--ca FILE] [--token T]

Uploads a signed release (xs-fota sign writes both files). The server refuses it, with the reason, unless the
manifest verifies with one of the product's keys, the image has the signed size and SHA-256, the image URL is a
plain file name and the sequence is above the product's latest. --product defaults to the manifest's.
Without --staged the release is served to every device of the product at its next check. With --staged it is
served only through a rollout (xs-fota rollout create); the other devices keep what they have.
${CLIENT_USAGE}`,
	options: { manifest: { required: true }, image: { required: true }, product: {}, staged: { flag: true }, ...CLIENT_OPTIONS },
	async run(values) {
		const manifest = readInput(values.manifest!, "manifest");
		const image = readInput(values.image!, "image");
		let product = values.product;
		if (product === undefined) {
			const envelope = splitEnvelope(new Uint8Array(manifest));
			try {
				product = envelope.ok ? JSON.parse(new TextDecoder().decode(envelope.body)).product : undefined;
			} catch {
				product = undefined;
			}
			if (typeof product !== "string")
				throw new CliError("cannot read the product from the manifest: give --product");
		}
		show(await client(values)("POST", `/v1/admin/products/${encodeURIComponent(product)}/releases`,
			{ manifest: manifest.toString("base64"), image: image.toString("base64"), ...(values.staged === "true" ? { staged: true } : {}) }));
	},
};

const releasesList: Command = {
	name: "releases list",
	usage: `usage: xs-fota releases list --product P [--server URL] [--ca FILE] [--token T]\n\n${CLIENT_USAGE}`,
	options: { product: { required: true }, ...CLIENT_OPTIONS },
	async run(values) {
		show(await client(values)("GET", `/v1/admin/products/${encodeURIComponent(values.product!)}/releases`));
	},
};

const devicesList: Command = {
	name: "devices list",
	usage: `usage: xs-fota devices list [--product P] [--version V] [--state S] [--search TEXT] [--server URL] [--ca FILE] [--token T]

--search matches a part of the device id or of its last error. ${CLIENT_USAGE}`,
	options: { product: {}, version: {}, state: {}, search: {}, ...CLIENT_OPTIONS },
	async run(values) {
		const query = new URLSearchParams();
		for (const name of ["product", "version", "state", "search"])
			if (values[name] !== undefined)
				query.set(name, values[name]!);
		show(await client(values)("GET", `/v1/admin/devices${query.size ? `?${query}` : ""}`));
	},
};

const devicesShow: Command = {
	name: "devices show",
	positionals: ["id"],
	usage: `usage: xs-fota devices show ID [--server URL] [--ca FILE] [--token T]\n\nThe device and its history, newest first. ${CLIENT_USAGE}`,
	options: { ...CLIENT_OPTIONS },
	async run(values) {
		show(await client(values)("GET", `/v1/admin/devices/${encodeURIComponent(values.id!)}`));
	},
};

const devicesRevoke: Command = {
	name: "devices revoke",
	positionals: ["id"],
	usage: `usage: xs-fota devices revoke ID [--server URL] [--ca FILE] [--token T]

Puts the device on the deny list: the server refuses its certificate from then on. ${CLIENT_USAGE}`,
	options: { ...CLIENT_OPTIONS },
	async run(values) {
		show(await client(values)("POST", `/v1/admin/devices/${encodeURIComponent(values.id!)}/revoke`));
	},
};

export const ADMIN_COMMANDS: Command[] = [tokenCreate, productsAdd, productsList, keysAdd, publish, releasesList, devicesList, devicesShow, devicesRevoke];
