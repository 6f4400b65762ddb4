// Shared set-up of the end-to-end tests: a world with v1 and v2 builds, a device on v1, helpers to watch it.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { World } from "../../tools/demo/world.js";
import type { Board, BoardEvent } from "../../tools/demo/board.js";
import { HostileServer } from "./hostile.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";

export const V2_PATH = "/v1/products/demo-board/firmware-2.0.0.bin";

export async function world(): Promise<World> {
	const made = new World(mkdtempSync(join(tmpdir(), "xs-fota-e2e-")));
	await made.start();
	return made;
}

let cached: { v1: Buffer; v2: Buffer } | undefined;

/** v1 and v2 of the example firmware; v2 is padded to 256 KiB so downloads have chunks to lose. */
export function builds(w: World) {
	cached ??= {
		v1: w.firmware({ version: "1.0.0" }),
		v2: w.firmware({ version: "2.0.0", padTo: 256 * 1024 }),
	};
	return cached;
}

export const is = (type: string, fields: Record<string, unknown> = {}) => (event: BoardEvent) =>
	event.type === type && Object.entries(fields).every(([key, value]) => event[key] === value);

export function types(board: Board): string[] {
	return board.events.map((event) => event.type);
}

/** Runs fn with a booted board, always stopping the board and the world. */
export async function withBoard<T>(w: World, flash: string, fn: (board: Board) => Promise<T>, options: Parameters<World["boot"]>[1] = {}): Promise<T> {
	const board = w.boot(flash, options);
	try {
		return await fn(board);
	} finally {
		await board.stop();
		if (board.events.some((event) => event.type === "bricked"))
			throw new Error("the device bricked");
	}
}

/** A hostile server (./hostile.ts) in front of the world's update server; devices given its url reach it. It passes
 * a device's requests on under a certificate for the same device id, made from the world's device CA. */
export async function hostileFor(w: World): Promise<HostileServer> {
	const hostile = new HostileServer({ upstream: w.url, ca: readFileSync(w.certs.ca), cert: readFileSync(w.certs.cert), key: readFileSync(w.certs.key),
		identity: (deviceId) => makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId }) });
	await hostile.listen();
	return hostile;
}
