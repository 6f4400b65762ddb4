// The bootloader for Moddable's desktop simulator: `xs-fota mcsim --flash dev.flash` runs a lin device whose
// flash is a file laid out by hosts/esp32/partitions.csv. Each boot picks the slot by ESP-IDF's rules (one pass of
// hosts/sim/c/board/bootloader.c through `xsfota-sim boot --kind lin`), unpacks that slot's mc.so and starts mcsim
// on it (under xvfb-run when there is no display). The firmware's board glue (hosts/lin/c/board-lin.c) ends mcsim
// with RESET_EXIT on every reset (restart, markInvalidAndReboot, watchdog); the launcher then boots again, so a
// reset while an image is pending rolls it back as the ESP32's bootloader does.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSlotImage } from "./flash.js";
import { linSharedObject, readImage } from "./image.js";

/** hosts/lin/c/board-lin.c's XSFOTA_RESET_EXIT: mcsim ended because the board reset. */
export const RESET_EXIT = 75;

export interface LaunchOptions {
	flash: string;
	/** the sim host (build/sim/xsfota-sim), whose `boot` command is the bootloader */
	host: string;
	/** Moddable's mcsim */
	mcsim: string;
	/** a folder of the launcher's own: unpacked mc.so files and mcsim's HOME */
	work: string;
	/** the board's JSON Lines event log */
	log?: string;
	maxBoots?: number;
	/** run mcsim under xvfb-run (default: when DISPLAY is not set) */
	headless?: boolean;
	/** console lines: boots and resets */
	say?: (line: string) => void;
}

export interface Launch {
	/** the exit status: 0 stopped, 3 bricked, 4 too many boots, other: mcsim's own */
	done: Promise<number>;
	stop(): void;
}

function event(log: string | undefined, type: string, fields: Record<string, unknown>): void {
	if (log)
		appendFileSync(log, JSON.stringify({ t: 0, boot: 0, ops: 0, type, ...fields }) + "\n");
}

/** The path of mcsim in an SDK built as ../shared/tools/moddable-sdk.sh builds it. */
export function findMcsim(moddable: string | undefined): string {
	if (!moddable)
		throw new Error("MODDABLE is not set: point it at a built Moddable SDK (see README, \"The desktop simulator\")");
	for (const build of ["release", "debug"]) {
		const path = join(moddable, "build/bin/lin", build, "mcsim");
		if (existsSync(path))
			return path;
	}
	throw new Error(`no mcsim in ${moddable}/build/bin/lin/{release,debug}: build the SDK's Linux tools first`);
}

export function launch(options: LaunchOptions): Launch {
	const say = options.say ?? (() => {});
	const maxBoots = options.maxBoots ?? 32;
	const headless = options.headless ?? !process.env.DISPLAY;
	let child: ChildProcess | undefined;
	let stopped = false;
	const home = join(options.work, "home");
	mkdirSync(join(home, ".config/tech.moddable.mcsim"), { recursive: true }); // mcsim copies the mc.so there

	const runMcsim = (so: string, slot: number, boot: number, reset: string) => new Promise<number>((resolve, reject) => {
		const command = headless ? ["xvfb-run", "-a", options.mcsim, so] : [options.mcsim, so];
		child = spawn(command[0], command.slice(1), {
			stdio: ["ignore", "inherit", "inherit"],
			detached: true, // its own process group: stop() ends xvfb-run, Xvfb and mcsim together
			env: {
				...process.env, HOME: home, XSFOTA_FLASH: options.flash, XSFOTA_SLOT: String(slot), XSFOTA_BOOT: String(boot),
				...(options.log ? { XSFOTA_LOG: options.log } : {}), ...(reset ? { XSFOTA_RESET: reset } : {}),
			},
		});
		child.on("error", (error) => reject(new Error(`cannot start ${command[0]}: ${error.message}`)));
		child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
	});

	const run = async (): Promise<number> => {
		let lastSlot = -1;
		for (let boot = 1; !stopped; boot++) {
			if (boot > maxBoots) {
				event(options.log, "max-boots", { boots: boot - 1 });
				say(`mcsim: stopped after ${boot - 1} boots`);
				return 4;
			}
			const picked = spawnSync(options.host, ["boot", "--flash", options.flash, "--kind", "lin", "--boot", String(boot),
				...(lastSlot >= 0 ? ["--last-slot", String(lastSlot)] : []), ...(options.log ? ["--log", options.log] : [])], { encoding: "utf8" });
			if (picked.status === 3) {
				say(`mcsim: bricked: ${picked.stderr.trim()}`);
				return 3;
			}
			if (picked.status !== 0)
				throw new Error(`the bootloader failed (${picked.status}): ${picked.stderr.trim()}`);
			const booted = JSON.parse(picked.stdout) as { slot: number; label: string; version: string; state: string };
			const image = readSlotImage(options.flash, booted.label);
			const info = readImage(image);
			if (info.kind !== "lin")
				throw new Error(`${booted.label} holds a ${info.kind} image, not a lin one`);
			const so = join(options.work, `boot-${boot}-${booted.label}.so`);
			writeFileSync(so, linSharedObject(image.subarray(128)));
			say(`mcsim: boot ${boot}: ${booted.label} v${booted.version} (${booted.state})`);
			// the first launch is a power-on; later ones follow a reset the firmware made (restart, rollback, watchdog)
			const status = await runMcsim(so, booted.slot, boot, lastSlot >= 0 ? "restart" : "");
			child = undefined;
			if (stopped)
				return 0;
			if (status !== RESET_EXIT) {
				event(options.log, "halt", { slot: booted.slot, status });
				say(`mcsim: exited with ${status}`);
				return status;
			}
			lastSlot = booted.slot;
		}
		return 0;
	};

	return {
		done: run(),
		stop() {
			stopped = true;
			if (child?.pid !== undefined && child.exitCode === null) {
				try {
					process.kill(-child.pid, "SIGTERM");
				} catch {
					// already gone
				}
			}
		},
	};
}
