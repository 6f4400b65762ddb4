// npm run bench:mcsim: the heap of a 1 MiB update in Moddable's desktop simulator, from Moddable's own
// instrumentation. The example firmware is built twice with mcconfig -d -p lin (a debug build: XS is compiled with
// mxInstrument and connects to xsbug); v2's mc.so is padded with random bytes (after the ELF, which the loader never
// reads) so that its lin image is 1 MiB, as in `npm run bench`. A lin device runs v1 in mcsim; this script listens
// as xsbug (XSBUG_PORT) and reads the <samples> that the simulator sends once a second: XS's "Chunk used" and "Slot
// used" (the->currentChunksSize and currentHeapCount × sizeof(txSlot): live data plus garbage not yet collected),
// "Chunk available"/"Slot available" (what XS reserved) and the collections count. It idles, v2 is published, the
// device downloads it, and the script prints JSON: idle, the peak during the download (with garbage: what XS held),
// the peak sampled after a collection (closest to live data), the heap XS reserved, and the TLS handshakes the
// server's socket saw (./tls-tap.ts). XS's own peak counters (peakChunksSize) are not exposed by the instrumentation.
// Needs the SDK: without MODDABLE it says so and exits with 2, never printing a figure.
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { mcconfig } from "../builder/mcconfig.js";
import { buildLinImage } from "../sim/image.js";
import { findMcsim } from "../sim/mcsim.js";
import { World, ROOT } from "./world.js";
import { TlsTap } from "./tls-tap.js";
import type { Board, BoardEvent } from "./board.js";

const IMAGE_BYTES = 1024 * 1024;
const WAIT_MS = 300000;
const IDLE_MS = 6000;

interface Sample { at: number; machine: number; chunk: number; slot: number; chunkReserved: number; slotReserved: number; collections: number; modules: number }

/** A listener that speaks enough of the xsbug protocol to keep the machine running (go after login and after a
 * break) and collects the instrument samples. */
class XsbugSamples {
	/** every machine's samples; mcsim connects more than one machine, each on its own connection */
	readonly all: Sample[] = [];
	#machines = 0;
	readonly #server = createServer((socket) => this.#serve(socket));
	readonly #sockets = new Set<Socket>();
	port = 0;

	async listen(): Promise<number> {
		await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
		this.port = (this.#server.address() as AddressInfo).port;
		return this.port;
	}

	/** The samples of the machine that runs the firmware: the one that loaded the most modules. */
	get samples(): Sample[] {
		const modules = new Map<number, number>();
		for (const sample of this.all)
			modules.set(sample.machine, Math.max(modules.get(sample.machine) ?? 0, sample.modules));
		const app = [...modules].sort((a, b) => b[1] - a[1])[0]?.[0];
		return this.all.filter((sample) => sample.machine === app);
	}

	close(): Promise<void> {
		for (const socket of this.#sockets)
			socket.destroy();
		return new Promise((resolve) => this.#server.close(() => resolve()));
	}

	#serve(socket: Socket): void {
		this.#sockets.add(socket);
		const machine = ++this.#machines;
		let names: string[] = []; // this connection's instruments: the samples list their values in this order
		let text = "";
		socket.on("data", (bytes: Buffer) => {
			text += bytes.toString("utf8");
			let end: number;
			while ((end = text.indexOf("</xsbug>")) >= 0) {
				const message = text.slice(0, end);
				text = text.slice(end + 8);
				if (message.includes("<login ") || message.includes("<break "))
					socket.write("\r\n<go/>\r\n");
				const instruments = message.match(/<instrument [^>]*name="[^"]*"/g);
				if (instruments)
					names = instruments.map((tag) => /name="([^"]*)"/.exec(tag)![1]!);
				const samples = /<samples>([^<]*)<\/samples>/.exec(message);
				if (samples && names.length) {
					const values = samples[1]!.split(",").map(Number);
					const value = (name: string) => values[names.indexOf(name)] ?? NaN;
					this.all.push({
						at: Date.now(), machine, modules: value("Modules loaded"), chunk: value("Chunk used"), slot: value("Slot used"),
						chunkReserved: value("Chunk available"), slotReserved: value("Slot available"), collections: value("Garbage collections"),
					});
				}
			}
		});
		socket.on("error", () => {});
		socket.on("close", () => this.#sockets.delete(socket));
	}
}

/** The lin image of a debug build, its mc.so padded with random bytes until the image is at least `size` bytes. */
function buildPadded(dir: string, version: string, size: number, moddable: string): Buffer {
	const so = mcconfig({ manifest: join(ROOT, "manifest.json"), platform: "lin", version, config: {}, out: join(dir, "builds", version), moddable, root: ROOT, debug: true });
	const stripped = join(dir, "builds", version, "mc.stripped.so");
	const result = spawnSync("strip", ["--strip-unneeded", "-o", stripped, so], { encoding: "utf8" });
	if (result.status !== 0)
		throw new Error(`strip ${so} failed: ${result.stderr.trim()}`);
	const elf = readFileSync(stripped);
	let image = buildLinImage(elf, version);
	for (let pad = 0; image.length < size;) {
		pad += size - image.length + 64; // random bytes do not compress: each adds about one byte to the gzip body
		image = buildLinImage(Buffer.concat([elf, randomBytes(pad)]), version);
	}
	return image;
}

function summary(samples: Sample[]) {
	const total = (s: Sample) => s.chunk + s.slot;
	const max = (f: (s: Sample) => number) => samples.reduce((m, s) => Math.max(m, f(s)), 0);
	return { max: max(total), chunk: max((s) => s.chunk), slot: max((s) => s.slot), reserved: max((s) => s.chunkReserved + s.slotReserved) };
}

async function main(): Promise<number> {
	const moddable = process.env.MODDABLE;
	if (!moddable) {
		console.error("bench:mcsim needs the Moddable SDK: set MODDABLE to a built SDK (README, \"The desktop simulator\"). No figures without it.");
		return 2;
	}
	const mcsim = findMcsim(moddable);
	const dir = join(ROOT, "build/bench-mcsim");
	rmSync(dir, { recursive: true, force: true });
	const log = (line: string) => console.error(line);
	log("bench:mcsim: building v1 and a 1 MiB v2 with mcconfig -d -p lin");
	const v1 = buildPadded(dir, "1.0.0", 0, moddable);
	const v2 = buildPadded(dir, "2.0.0", IMAGE_BYTES, moddable);

	const world = new World(dir);
	await world.start();
	const tap = new TlsTap({ host: "127.0.0.1", port: Number(new URL(world.url).port) });
	const relay = await tap.listen();
	const xsbug = new XsbugSamples();
	process.env.XSBUG_PORT = String(await xsbug.listen());
	let board: Board | undefined;
	const marks: Record<string, number> = {};
	let checkHandshakes = 0, updateHandshakes = -1;
	const watch = (event: BoardEvent) => {
		if (event.type === "check")
			checkHandshakes = tap.counts.handshakes;
		if (event.type === "check" && marks.check === undefined)
			marks.check = Date.now();
		if (event.type === "manifest" && marks.manifest === undefined)
			marks.manifest = Date.now();
		if (event.type === "verified" && marks.verified === undefined)
			marks.verified = Date.now();
		if (event.type === "reboot" && event.reason === "update" && updateHandshakes < 0)
			updateHandshakes = tap.counts.handshakes - checkHandshakes;
		if (event.type === "error" || event.type === "retry")
			log(`bench:mcsim: device ${event.type}: ${JSON.stringify(event)}`);
	};
	try {
		log(`bench:mcsim: v1 in mcsim; xsbug samples on port ${xsbug.port}; server through ${relay}`);
		board = world.bootMcsim(world.device("mcsim-heap", v1, { selftestSeconds: 20, watchdogSeconds: 10, timeoutSeconds: 30, server: relay, pollSeconds: 2 }), { onEvent: watch, mcsim });
		await board.waitFor((e) => e.type === "none", WAIT_MS, "a first check (no release yet)");
		await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
		marks.published = Date.now();
		await world.publish({ version: "2.0.0", kind: "lin", sequence: 2, securityVersion: 1, image: v2 });
		log(`bench:mcsim: published v2 (${v2.length} bytes); waiting for the download`);
		await board.waitFor((e) => e.type === "reboot" && e.reason === "update", WAIT_MS, "the update downloaded and activated");
	} finally {
		await board?.stop();
		await tap.close();
		await xsbug.close();
		await world.stop();
	}
	const samples = xsbug.samples;
	if (samples.length === 0)
		throw new Error("no instrument samples came from mcsim: was the build a debug one, and did it reach xsbug?");
	// idle: after the firmware's first check (its modules loaded, its client running), before v2 is published
	const idle = samples.filter((s) => s.at > (marks.check ?? Infinity) && s.at < marks.published!);
	const download = samples.filter((s) => s.at >= marks.manifest! && s.at <= marks.verified!);
	if (idle.length === 0 || download.length === 0)
		throw new Error(`too few samples: ${idle.length} idle, ${download.length} during the download`);
	// idle: the lowest sample (the one closest to a collection); XS's "used" figures include uncollected garbage
	const idleLow = idle.reduce((low, s) => (s.chunk + s.slot < low.chunk + low.slot ? s : low));
	const peak = summary(download);
	const afterGc = download.filter((s, i) => i > 0 && s.collections > download[i - 1]!.collections);
	const live = afterGc.length ? summary(afterGc).max : undefined;
	const figures = {
		image_bytes: v2.length,
		download_seconds: Number(((marks.verified! - marks.manifest!) / 1000).toFixed(1)),
		samples_idle: idle.length,
		samples_download: download.length,
		idle_heap_bytes: idleLow.chunk + idleLow.slot,
		idle_chunk_bytes: idleLow.chunk,
		idle_slot_bytes: idleLow.slot,
		download_peak_heap_with_garbage_bytes: peak.max,
		download_peak_chunk_bytes: peak.chunk,
		download_peak_slot_bytes: peak.slot,
		download_peak_with_garbage_over_idle_bytes: peak.max - (idleLow.chunk + idleLow.slot),
		download_peak_after_gc_bytes: live ?? null,
		download_peak_after_gc_over_idle_bytes: live === undefined ? null : live - (idleLow.chunk + idleLow.slot),
		reserved_heap_idle_bytes: summary(idle).reserved,
		reserved_heap_download_bytes: peak.reserved,
		collections_during_download: download.reduce((sum, s, i) => sum + (i ? Math.max(0, s.collections - download[i - 1]!.collections) : 0), 0),
		tls_handshakes_update: updateHandshakes,
		tls_handshakes_total: tap.counts.handshakes,
		tls_resumed_total: tap.counts.resumed,
	};
	console.log(JSON.stringify(figures, null, 2));
	// a firmware that runs its update client holds far more than a few KB: less means the samples are not its machine's
	if (figures.idle_heap_bytes < 16384) {
		console.error(`bench:mcsim: the idle sample (${figures.idle_heap_bytes} bytes) cannot be the firmware's heap: the figures above are not trustworthy`);
		return 1;
	}
	return updateHandshakes === 1 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (error) => {
	console.error(`bench:mcsim failed: ${error.message}`);
	process.exitCode = 1;
});
