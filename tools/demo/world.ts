// Everything an update needs, on one machine: a development CA and a device CA, a vendor key, firmware builds as
// sim images, signed releases published through the server's checks, the management server on loopback over
// mutual TLS with its fleet store (SQLite in the world's folder), and provisioned sim devices, each with its own
// certificate. Used by the demo and the e2e tests.
import { generateKeyPairSync, sign as edSign, createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeDevCertificates, makeDeviceCa, makeDeviceCertificate, type DevCertificates } from "../server/certificates.js";
import { UpdateServer } from "../server/server.js";
import { imagePath, publishRelease } from "../server/publish.js";
import { acceptConfigDoc } from "../server/configs.js";
import { openStore, type DeviceRow, type FleetStore } from "../server/store/store.js";
import { buildSim, writeWhole } from "../builder/sim.js";
import { provision, writeDeviceConfig } from "../sim/flash.js";
import { keyIdOf, rawPublicKey } from "../cli/keys.js";
import { frameBody2, joinEnvelope } from "../../modules/fota/envelope.js";
import { IDENTITY_FIELDS } from "../../modules/fota/config-doc.js";
import { signConfigDoc, type ConfigDocFields } from "../release/config-doc.js";
import { nodeVerify } from "../cli/verifier.js";
import { nodeSha256 } from "../cli/keys.js";
import { Board, type BoardEvent } from "./board.js";

export const ROOT = resolve(fileURLToPath(import.meta.url), "../../../../..");
export const HOST = join(ROOT, "build/sim/xsfota-sim");
const BUILD_JS = join(ROOT, "build/js");
export const PRODUCT = "demo-board";
/** The devices' download checkpoint: a cut costs at most this many bytes. */
export const DEVICE_CHUNK_BYTES = 16384;

export interface FirmwareOptions {
	version: string;
	/** "fail" | "hang" | "crash": a deliberate fault in the self-test of this build */
	fault?: string;
	/** one critical task that holds updates: when it starts and how long it lasts */
	criticalAfterMs?: number;
	criticalForMs?: number;
	/** extra bytes carried in the image, to make it a given size */
	padTo?: number;
	/** the kind the firmware reports (mc/config kind), when it is not the sim's: a wrong build */
	kind?: string;
}

export interface Release {
	version: string;
	/** the image's kind (default "sim") */
	kind?: string;
	sequence: number;
	securityVersion: number;
	image: Buffer;
	file?: string;
}

export class World {
	readonly dir: string;
	readonly certs: DevCertificates;
	readonly keyId: string;
	readonly publicKey: Uint8Array;
	readonly #privateKey;
	/** the vendor's config key: config documents are signed with it, never with the firmware key */
	readonly configKey: { keyId: string; publicKey: Uint8Array; privateKey: ReturnType<typeof generateKeyPairSync>["privateKey"] };
	readonly deviceCa: { cert: string; key: string };
	/** the server's images, by SHA-256 */
	readonly images: string;
	store!: FleetStore;
	server!: UpdateServer;
	url!: string;

	constructor(dir: string) {
		this.dir = dir;
		mkdirSync(dir, { recursive: true });
		this.certs = makeDevCertificates(join(dir, "certs"));
		const deviceCa = makeDeviceCa(join(dir, "certs"));
		this.deviceCa = { cert: readFileSync(deviceCa.cert, "utf8"), key: readFileSync(deviceCa.key, "utf8") };
		const { privateKey, publicKey } = generateKeyPairSync("ed25519");
		this.#privateKey = privateKey;
		this.publicKey = rawPublicKey(publicKey);
		this.keyId = keyIdOf(this.publicKey);
		const config = generateKeyPairSync("ed25519");
		const configPublic = rawPublicKey(config.publicKey);
		this.configKey = { keyId: keyIdOf(configPublic), publicKey: configPublic, privateKey: config.privateKey };
		this.images = join(dir, "images");
	}

	async start(log?: (line: string) => void, rateBytesPerSecond?: number): Promise<void> {
		this.store = await openStore({ file: join(this.dir, "fleet.db") });
		await this.store.addProduct(PRODUCT, new Date());
		if (!(await this.store.keys(PRODUCT)).some((key) => key.keyId === this.keyId))
			await this.store.addKey(PRODUCT, this.keyId, Buffer.from(this.publicKey).toString("hex"));
		if (!(await this.store.keys(PRODUCT)).some((key) => key.keyId === this.configKey.keyId))
			await this.store.addKey(PRODUCT, this.configKey.keyId, Buffer.from(this.configKey.publicKey).toString("hex"), "config");
		this.server = new UpdateServer({
			store: this.store,
			images: this.images,
			cert: readFileSync(this.certs.cert),
			key: readFileSync(this.certs.key),
			deviceCa: this.deviceCa.cert,
			...(log ? { log } : {}),
			...(rateBytesPerSecond ? { rateBytesPerSecond } : {}),
		});
		({ url: this.url } = await this.server.listen());
	}

	async stop(): Promise<void> {
		await this.server?.close();
		await this.store?.close();
	}

	/** What the server knows of a device, or undefined. */
	record(deviceId: string): Promise<DeviceRow | undefined> {
		return this.store.device(deviceId);
	}

	/** Builds the example firmware (src/) as a sim image; the version and faults go into its mc/config. */
	firmware(options: FirmwareOptions): Buffer {
		const name = options.version.replace(/[^\w.-]/g, "_") + (options.fault ? `-${options.fault}` : "") + (options.kind ? `-kind-${options.kind}` : "");
		const dir = join(BUILD_JS, "generated/firmware", name);
		const config = { ...(options.fault ? { fault: options.fault } : {}), ...(options.kind ? { kind: options.kind } : {}),
			...(options.criticalAfterMs ? { criticalAfterMs: options.criticalAfterMs, criticalForMs: options.criticalForMs ?? 1000 } : {}) };
		const build = (include: string[] = []) => buildSim({ root: BUILD_JS, sim: join(ROOT, "build/sim"), version: options.version, config, dir, include });
		let image = build();
		if (options.padTo && options.padTo > image.length) {
			// an unused module of hash text: it rides in the image to give it the wanted size, and is never loaded
			const padding = join(dir, "padding.js");
			const overhead = 8 + Buffer.byteLength(relative(BUILD_JS, padding).replace(/\.js$/, "")) + 4;
			const length = Math.max(0, options.padTo - image.length - overhead);
			let text = "";
			for (let i = 0; text.length < length; i++)
				text += createHash("sha512").update(`${options.version}:${i}`).digest("base64");
			writeWhole(padding, `// ${text.slice(0, length)}\n`);
			image = build([padding]);
		}
		return image;
	}

	/** The signed manifest (XFM2) of a release, as `xs-fota sign` writes it; see publish for the fields. */
	sign(release: Release, fields: { product?: string; size?: number; sha256?: string; signer?: "vendor" | "forged" | "unknown" } = {}): Uint8Array {
		const file = release.file ?? `firmware-${release.version}.bin`;
		const image = release.image;
		const other = fields.signer && fields.signer !== "vendor" ? generateKeyPairSync("ed25519") : undefined;
		const manifest = {
			format: 1, keyId: fields.signer === "unknown" ? keyIdOf(rawPublicKey(other!.publicKey)) : this.keyId, product: fields.product ?? PRODUCT, version: release.version,
			securityVersion: release.securityVersion, sequence: release.sequence,
			image: { size: fields.size ?? image.length, sha256: fields.sha256 ?? createHash("sha256").update(image).digest("hex"), url: file, kind: release.kind ?? "sim" },
		};
		const framed = frameBody2(manifest.keyId, new TextEncoder().encode(JSON.stringify(manifest)));
		return joinEnvelope(framed, new Uint8Array(edSign(null, framed, other ? other.privateKey : this.#privateKey)));
	}

	/** Signs a release as `xs-fota sign` would and publishes it through the server's checks (as `xs-fota publish`).
	 * A release the checks would refuse (signer "forged": another key signs a manifest that names ours; "unknown":
	 * another key under its own id; a size, digest or product that is not the image's) goes straight into the
	 * fleet store instead, as a compromised server or database would hold it, so that the device's own checks meet it.
	 * staged: served only through a rollout. */
	async publish(release: Release, fields: { product?: string; size?: number; sha256?: string; signer?: "vendor" | "forged" | "unknown"; staged?: boolean } = {}): Promise<void> {
		const image = release.image;
		const signed = this.sign(release, fields);
		const other = fields.signer !== undefined && fields.signer !== "vendor";
		const honest = !other && fields.product === undefined && fields.size === undefined && fields.sha256 === undefined;
		if (honest) {
			const published = await publishRelease(this.store, this.images, PRODUCT, signed, image, new Date(), { staged: fields.staged === true });
			if (!published.ok)
				throw new Error(`publish ${release.version}: ${published.error}: ${published.detail}`);
			return;
		}
		const sha256 = createHash("sha256").update(image).digest("hex");
		mkdirSync(this.images, { recursive: true });
		if (!existsSync(imagePath(this.images, sha256)))
			writeFileSync(imagePath(this.images, sha256), image);
		await this.store.addRelease({ product: PRODUCT, sequence: release.sequence, version: release.version, securityVersion: release.securityVersion,
			kind: release.kind ?? "sim", imageSha256: sha256, imageSize: image.length, manifest: signed }, new Date());
	}

	/** A fresh sim device: flash with `first` in ota_0 and a device config pointing at this world's server, with the
	 * device's own key and certificate (CN = name) from the world's device CA, unless config says otherwise. */
	device(name: string, first: Buffer, config: Record<string, unknown> = {}): string {
		const flash = join(this.dir, `${name}.flash`);
		provision(flash, { partitionsCsv: join(ROOT, "hosts/esp32/partitions.csv"), image: first });
		writeDeviceConfig(flash, this.deviceConfig(name, config));
		return flash;
	}

	/** The device config of a device of this world (short intervals, for demos and tests), with overrides. */
	deviceConfig(name: string, config: Record<string, unknown> = {}): Record<string, unknown> {
		const identity = makeDeviceCertificate({ caCert: this.deviceCa.cert, caKey: this.deviceCa.key, deviceId: name });
		return {
			clientKey: identity.key,
			clientCertificates: identity.cert,
			deviceId: name,
			product: PRODUCT,
			server: this.url,
			ca: readFileSync(this.certs.ca, "utf8"),
			keys: [{ keyId: this.keyId, publicKey: Buffer.from(this.publicKey).toString("hex") }],
			configKeys: [{ keyId: this.configKey.keyId, publicKey: Buffer.from(this.configKey.publicKey).toString("hex") }],
			pollSeconds: 1,
			jitter: 0.2,
			backoffSeconds: 0.2,
			maxBackoffSeconds: 2,
			chunkBytes: DEVICE_CHUNK_BYTES,
			selftestSeconds: 10,
			watchdogSeconds: 2,
			timeoutSeconds: 5,
			...config,
		};
	}

	/** The settings of a device of this world's config (everything but its identity), with changes: the settings
	 * of a config document. */
	settings(name: string, changes: Record<string, unknown> = {}): Record<string, unknown> {
		const settings: Record<string, unknown> = {};
		for (const [field, value] of Object.entries(this.deviceConfig(name)))
			if (!(IDENTITY_FIELDS as readonly string[]).includes(field))
				settings[field] = value;
		return { ...settings, ...changes };
	}

	/** A config document signed with the world's config key, as `xs-fota config sign` makes it. */
	signConfig(fields: Omit<ConfigDocFields, "product"> & { product?: string }): Uint8Array {
		return signConfigDoc({ product: PRODUCT, ...fields }, this.configKey, nodeVerify, nodeSha256);
	}

	/** Gives the server a signed config document through its checks (as `xs-fota config push`); staged: given only
	 * through a config rollout. */
	async pushConfig(bytes: Uint8Array, options: { staged?: boolean } = {}): Promise<void> {
		const accepted = await acceptConfigDoc(this.store, bytes, { staged: options.staged === true, by: "world" });
		if (!accepted.ok)
			throw new Error(`push config: ${accepted.reason}: ${accepted.detail}`);
	}

	boot(flash: string, options: { args?: string[]; env?: Record<string, string>; onEvent?: (event: BoardEvent) => void } = {}): Board {
		return new Board({ host: HOST, flash, log: flash.replace(/\.flash$/, "") + `-${Date.now()}.jsonl`, ...options });
	}

	/** Starts a lin device in Moddable's desktop simulator through the launcher, `xs-fota mcsim`. */
	bootMcsim(flash: string, options: { onEvent?: (event: BoardEvent) => void; mcsim?: string } = {}): Board {
		const log = flash.replace(/\.flash$/, "") + `-${Date.now()}.jsonl`;
		return new Board({
			host: HOST, flash, log, ...options,
			command: [process.execPath, join(ROOT, "bin/xs-fota.js"), "mcsim", "--flash", flash, "--log", log, ...(options.mcsim ? ["--mcsim", options.mcsim] : [])],
		});
	}
}
