// A board as a child process, its event log followed as it is written: our sim host's board (`xsfota-sim board`),
// or any command that writes the same log, such as the desktop simulator's launcher (`xs-fota mcsim`).
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

export interface BoardEvent {
	type: string;
	t: number;
	boot: number;
	[field: string]: any;
}

export interface BoardOptions {
	host: string;
	flash: string;
	log: string;
	args?: string[];
	/** the whole command instead of `host board --flash FLASH --log LOG ...args` */
	command?: string[];
	env?: Record<string, string>;
	onEvent?: (event: BoardEvent) => void;
}

/** The one read buffer of every board's follower: a read is synchronous, so no two use it at once. Made once: a fresh
 * 64 KiB at every read (every 20 ms) cost the measuring process page faults, in the middle of the update it measures. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class Board {
	readonly events: BoardEvent[] = [];
	readonly child: ChildProcess;
	stdout = "";
	stderr = "";
	exit: Promise<number | null>;
	#offset = 0;
	/** the log, open from when it appears until the board exits */
	#fd: number | undefined;
	#pending = "";
	readonly #decoder = new StringDecoder("utf8");
	#timer: NodeJS.Timeout;
	#waiters: { test: (event: BoardEvent) => boolean; resolve: (event: BoardEvent) => void }[] = [];
	#onEvent: ((event: BoardEvent) => void) | undefined;

	constructor(options: BoardOptions) {
		this.#onEvent = options.onEvent;
		const command = options.command ?? [options.host, "board", "--flash", options.flash, "--log", options.log, ...(options.args ?? [])];
		this.child = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } });
		this.child.stdout!.on("data", (chunk) => { this.stdout += chunk; });
		this.child.stderr!.on("data", (chunk) => { this.stderr += chunk; });
		this.exit = new Promise((resolve) => this.child.on("close", (code) => {
			this.#read(options.log);
			clearInterval(this.#timer);
			if (this.#fd !== undefined)
				closeSync(this.#fd);
			this.#fd = undefined;
			resolve(code);
		}));
		this.#timer = setInterval(() => this.#read(options.log), 20);
	}

	#read(path: string): void {
		if (this.#fd === undefined) {
			if (!existsSync(path))
				return;
			this.#fd = openSync(path, "r");
		}
		for (;;) {
			const n = readSync(this.#fd, READ_BUFFER, 0, READ_BUFFER.length, this.#offset);
			if (n <= 0)
				break;
			this.#offset += n;
			this.#pending += this.#decoder.write(READ_BUFFER.subarray(0, n)); // a character cut between reads waits for its rest
		}
		const lines = this.#pending.split("\n");
		this.#pending = lines.pop()!;
		for (const line of lines) {
			if (!line)
				continue;
			const event = JSON.parse(line) as BoardEvent;
			this.events.push(event);
			this.#onEvent?.(event);
			this.#waiters = this.#waiters.filter((waiter) => {
				if (!waiter.test(event))
					return true;
				waiter.resolve(event);
				return false;
			});
		}
	}

	/** Resolves with the first event (already seen or to come) that passes test; rejects after timeoutMs or when the board exits. */
	waitFor(test: (event: BoardEvent) => boolean, timeoutMs = 30000, what = "an event"): Promise<BoardEvent> {
		const seen = this.events.find(test);
		if (seen)
			return Promise.resolve(seen);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`waited ${timeoutMs} ms for ${what} in vain; last events: ${JSON.stringify(this.events.slice(-5))}\n${this.stderr}`)), timeoutMs);
			const waiter = { test, resolve: (event: BoardEvent) => { clearTimeout(timer); resolve(event); } };
			this.#waiters.push(waiter);
			void this.exit.then((code) => {
				if (this.#waiters.includes(waiter)) {
					clearTimeout(timer);
					reject(new Error(`the board exited (${code}) before ${what}; last events: ${JSON.stringify(this.events.slice(-5))}\n${this.stderr}`));
				}
			});
		});
	}

	async stop(): Promise<void> {
		if (this.child.exitCode === null && this.child.signalCode === null)
			this.child.kill("SIGTERM");
		await this.exit;
	}
}
