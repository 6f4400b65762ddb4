// The device's event log told for people: one line per step, a progress bar for the download.
import type { BoardEvent } from "./board.js";

const tty = process.stdout.isTTY === true;

function kib(bytes: number): string {
	return `${Math.round(bytes / 1024)} KiB`;
}

function bar(offset: number, size: number): string {
	const width = 30, done = Math.round((offset / size) * width);
	return `[${"#".repeat(done)}${".".repeat(width - done)}] ${String(Math.floor((offset / size) * 100)).padStart(3)}% ${kib(offset)} of ${kib(size)}`;
}

export class Narrator {
	#barOpen = false;
	#lastStep = -1;

	line(text: string): void {
		if (this.#barOpen) {
			process.stdout.write("\n");
			this.#barOpen = false;
		}
		console.log(text);
	}

	#progress(offset: number, size: number): void {
		if (tty) {
			process.stdout.write(`\r  device   downloading ${bar(offset, size)}`);
			this.#barOpen = true;
			return;
		}
		const step = Math.floor((offset / size) * 4); // without a terminal: every quarter
		if (step !== this.#lastStep) {
			this.#lastStep = step;
			this.line(`  device   downloading ${bar(offset, size)}`);
		}
	}

	event(e: BoardEvent): void {
		const say = (text: string) => this.line(`  device   ${text}`);
		switch (e.type) {
		case "boot": return say(`boot #${e.boot}: ${e.label} runs v${e.version} (${e.state})`);
		case "check": return say("checking for an update");
		case "manifest": return say(`manifest: v${e.version}, sequence ${e.sequence}, security version ${e.securityVersion}, ${kib(e.size)}; signature verified`);
		case "none": return e.why === "no-release" ? undefined : say(`no update (${e.why})`);
		case "resume": return say(`resuming at ${kib(e.offset)}`);
		case "restart": return say(`download restarts: ${e.reason}`);
		case "progress": this.#lastStep = e.offset === 0 ? -1 : this.#lastStep; return this.#progress(e.offset, e.size);
		case "verified": return say(`image verified: SHA-256 ${String(e.sha256).slice(0, 16)}… matches the signed manifest`);
		case "held": return say(`update held: ${e.reason}${e.holds ? ` (${e.holds.join(", ")})` : ""}`);
		case "hold": return say(`the app holds updates: ${e.reason}`);
		case "release": return say(`the app releases its hold: ${e.reason}`);
		case "activate": return say(`activated ${e.slot} for v${e.version}`);
		case "reboot": return e.reason === "update" || e.reason === "rollback" ? undefined : say(`reboot (${e.reason}${e.message ? `: ${e.message}` : ""})`);
		case "selftest":
			if (e.result === "start")
				return say(`v${e.version} is pending: self-test under the watchdog`);
			return say(e.result === "pass" ? `self-test passed: ${e.checks.join(", ")}` : `self-test FAILED: ${e.reason}`);
		case "selftest-check": return say(`  ${e.ok ? "ok  " : "FAIL"} ${e.name}${e.detail ? `: ${e.detail}` : ""}`);
		case "valid": return say(`v${e.version} marked valid`);
		case "rollback":
			if (typeof e.from === "number") // the bootloader's own event: slots, not versions
				return say(`bootloader: ota_${e.from} is ${e.reason}; booting ota_${e.to}`);
			return say(`ROLLED BACK from v${e.from} to v${e.to}: ${e.reason}`);
		case "reject": return say(`update rejected: ${e.reason}`);
		case "error": return say(`error: ${e.detail}`);
		case "report": return e.ok ? say(`reported "${e.state}" to the server`) : say(`report "${e.state}" not delivered: ${e.error}`);
		case "watchdog": return say(`watchdog fired: ${e.message}`);
		case "bricked": return say("BRICKED");
		default: return undefined;
		}
	}
}
