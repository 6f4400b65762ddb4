// xs-fota provision: a sim device's flash file with a first image and the device config. With --device-ca, the
// device also gets its own TLS identity (an RSA key and a certificate for its id, signed by the device CA from
// `xs-fota init`), which it presents to the server; without it, a warning says a mutual-TLS server will refuse it.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, USAGE } from "./errors.js";
import { nodeSha256, readPublicKey } from "./keys.js";
import { parseDeviceConfig } from "../../modules/fota/config.js";
import { provision as provisionFlash, writeDeviceConfig } from "../sim/flash.js";
import { readImage } from "../sim/image.js";
import { makeDeviceCertificate } from "../server/certificates.js";
import { integerOption, type Command } from "./options.js";

const PARTITIONS = resolve(fileURLToPath(import.meta.url), "../../../../../hosts/esp32/partitions.csv");

export const provision: Command = {
	name: "provision",
	usage: `usage: xs-fota provision --flash FILE --config DEVICE.json [--image FIRST.img] [--force]
       xs-fota provision --flash FILE --device-id ID --product P --server URL --ca CA.pem --pub KEY.pub
                         [--config-pub CONFIG.pub] [--poll-seconds N] [--image FIRST.img] [--force]
       either form also takes [--device-ca DIR]

Writes the device config (identity, server URL, CA, trusted keys, schedule: see README "Device config") into
the fotacfg partition of a flash file (a sim device, or a lin device for \`xs-fota mcsim\`), checked as the device will check it. With --image, first makes a
fresh flash file (laid out by hosts/esp32/partitions.csv) with that image in ota_0; --force allows replacing
an existing file. Without --image, only the config of an existing flash file is replaced.
Instead of --config, the second form makes the config: the device's id and product, the server's URL, the CA
that signed the server's certificate (certs/ca.pem from \`xs-fota init\`), the vendor's public key (a .pub from
\`xs-fota keygen\`) and the polling period (default 3600 s); everything else takes its default. --config-pub adds
the vendor's config key (another .pub from \`xs-fota keygen\`): without one, the device takes no config document
(README "Configuration over the air").
--device-ca DIR (the folder with device-ca.pem and device-ca.key, as \`xs-fota init\` writes them) gives the
device its own identity for mutual TLS: a new RSA 2048 key and a certificate with CN = the device id, signed
by that CA, written into the config as clientKey and clientCertificates (README "Device identity"). Without
it, and without them in --config, the device has no identity and a server that requires mutual TLS refuses it.`,
	options: {
		flash: { required: true }, config: {}, image: {}, force: { flag: true },
		"device-id": {}, product: {}, server: {}, ca: {}, pub: {}, "config-pub": {}, "poll-seconds": {}, "device-ca": {},
	},
	run(values) {
		const made = ["device-id", "product", "server", "ca", "pub", "config-pub", "poll-seconds"].filter((name) => values[name] !== undefined);
		if (values.config !== undefined && made.length)
			throw new CliError(`give either --config or --${made[0]} and the options that make a config, not both\n\n${provision.usage}`, USAGE);
		let raw;
		if (values.config !== undefined) {
			try {
				raw = JSON.parse(readFileSync(values.config, "utf8"));
			} catch (error) {
				throw new CliError(`cannot read ${values.config}: ${(error as Error).message}`);
			}
		}
		else {
			for (const name of ["device-id", "product", "server", "ca", "pub"])
				if (values[name] === undefined)
					throw new CliError(`missing --config, or --${name} to make one\n\n${provision.usage}`, USAGE);
			let ca;
			try {
				ca = readFileSync(values.ca!, "utf8");
			} catch (error) {
				throw new CliError(`cannot read the CA ${values.ca}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
			}
			const key = readPublicKey(values.pub!);
			const configKey = values["config-pub"] === undefined ? undefined : readPublicKey(values["config-pub"]);
			raw = {
				deviceId: values["device-id"], product: values.product, server: values.server, ca,
				keys: [{ keyId: key.keyId, publicKey: Buffer.from(key.publicKey).toString("hex") }],
				...(configKey ? { configKeys: [{ keyId: configKey.keyId, publicKey: Buffer.from(configKey.publicKey).toString("hex") }] } : {}),
				...(values["poll-seconds"] !== undefined ? { pollSeconds: integerOption("poll-seconds", values["poll-seconds"], 7 * 86400) } : {}),
			};
		}
		if (values["device-ca"] !== undefined)
			raw = withIdentity(raw, values["device-ca"]);
		try {
			parseDeviceConfig(raw, nodeSha256);
		} catch (error) {
			throw new CliError((error as Error).message);
		}
		checkIdentity(raw);
		const flash = values.flash!;
		let kind: string | undefined;
		if (values.image) {
			if (existsSync(flash) && values.force !== "true")
				throw new CliError(`${flash} exists; add --force to replace it`);
			let image;
			try {
				image = readFileSync(values.image);
			} catch (error) {
				throw new CliError(`cannot read image ${values.image}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
			}
			try {
				kind = readImage(image).kind;
			} catch (error) {
				throw new CliError(`${values.image} is not an xs-fota image (${(error as Error).message})`);
			}
			try {
				provisionFlash(flash, { partitionsCsv: PARTITIONS, image });
			} catch (error) {
				throw new CliError(`cannot make ${flash}: ${(error as Error).message}`);
			}
		}
		else if (!existsSync(flash))
			throw new CliError(`${flash} does not exist; give --image to make it`);
		try {
			writeDeviceConfig(flash, raw);
		} catch (error) {
			throw new CliError(`cannot write the config into ${flash}: ${(error as Error).message}`);
		}
		if (raw.clientKey === undefined)
			console.error(`warning: device ${raw.deviceId} has no identity of its own (no --device-ca, no clientKey in the config): `
				+ `a server that requires mutual TLS will refuse it`);
		else
			console.log(`identity: CN=${raw.deviceId}, ${new X509Certificate(raw.clientCertificates).issuer.replace(/\n/g, ", ")} signed it; the device presents it in every TLS handshake`);
		console.log(`provisioned ${flash}: device ${raw.deviceId} of ${raw.product}, server ${raw.server}${values.image ? `, ${values.image} (a ${kind} image) in ota_0` : ""}${kind === "lin" ? "; run it with xs-fota mcsim" : ""}`);
	},
};

/** The config with a new identity for its device id, signed by the device CA in dir. */
function withIdentity(raw: any, dir: string): any {
	if (typeof raw !== "object" || raw === null)
		return raw; // parseDeviceConfig names the problem
	if (raw.clientKey !== undefined || raw.clientCertificates !== undefined)
		throw new CliError(`the config already has a clientKey or clientCertificates; give --device-ca only to make a new identity`);
	const caCert = join(dir, "device-ca.pem"), caKey = join(dir, "device-ca.key");
	for (const path of [caCert, caKey])
		if (!existsSync(path))
			throw new CliError(`${path} is missing: --device-ca names the folder where xs-fota init wrote device-ca.pem and device-ca.key`);
	try {
		const identity = makeDeviceCertificate({ caCert, caKey, deviceId: raw.deviceId });
		return { ...raw, clientKey: identity.key, clientCertificates: identity.cert };
	} catch (error) {
		throw new CliError(`cannot make the device's certificate: ${(error as Error).message}`);
	}
}

/** What the device cannot check for itself: the key is the first certificate's, and that certificate names the
 * device (CN = deviceId), or the server would see another device than the one that reports. */
function checkIdentity(raw: any): void {
	if (raw.clientKey === undefined)
		return;
	let certificate: X509Certificate;
	try {
		certificate = new X509Certificate(raw.clientCertificates);
		if (!certificate.checkPrivateKey(createPrivateKey(raw.clientKey)))
			throw new Error("clientKey is not the key of the first certificate in clientCertificates");
	} catch (error) {
		throw new CliError(`device config: ${(error as Error).message}`);
	}
	if (certificate.subject !== `CN=${raw.deviceId}`)
		throw new CliError(`device config: the first certificate in clientCertificates is for "${certificate.subject.replace(/\n/g, ", ")}", not CN=${raw.deviceId}`);
}
