// A throw-away PostgreSQL cluster for the tests, from Debian's postgresql package: initdb in a temp folder,
// trust auth, listening only on a Unix socket in that folder (no TCP port, so runs never collide).
// initdb refuses to run as root, and the tests run as root in CI: then the cluster is made and run by the
// `postgres` user, in a folder that user owns. stop() stops the server and removes the folder.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** Where Debian puts PostgreSQL 15's programs; PG_BIN points elsewhere. */
export const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";

export interface PostgresCluster {
	/** postgres://postgres@<socket folder, URL-encoded>/postgres */
	url: string;
	/** The cluster's folder, which holds its socket. */
	dir: string;
	/** Creates an empty database; returns its URL. */
	createDatabase(name: string): Promise<string>;
	/** Stops the server at once and removes the folder; safe to call twice. */
	stop(): Promise<void>;
}

function userIds(name: string): { uid: number; gid: number } {
	const id = (flag: string) => Number(execFileSync("id", [flag, name], { encoding: "utf8" }).trim());
	return { uid: id("-u"), gid: id("-g") };
}

export async function startPostgres(): Promise<PostgresCluster> {
	if (!existsSync(join(PG_BIN, "initdb")))
		throw new Error(`no initdb in ${PG_BIN}: install Debian's postgresql package (node scripts/lib/prepare.mjs does)`);
	const asRoot = process.getuid?.() === 0;
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-pg-"));
	const data = join(dir, "data");
	if (asRoot) {
		const { uid, gid } = userIds("postgres");
		chownSync(dir, uid, gid);
	}
	// As root: run as postgres, from the cluster's folder (postgres may not read the current one).
	const command = (program: string, args: string[]): [string, string[]] =>
		asRoot ? ["runuser", ["-u", "postgres", "--", join(PG_BIN, program), ...args]] : [join(PG_BIN, program), args];
	const pgctl = (...args: string[]) => command("pg_ctl", ["-D", data, ...args]);
	let stopped = false;
	const stopNow = () => {
		if (stopped)
			return;
		stopped = true;
		spawnSync(...pgctl("-m", "immediate", "-w", "stop"), { cwd: dir, stdio: "ignore" });
		rmSync(dir, { recursive: true, force: true });
	};
	// Should the tests end without stop(), the server must not outlive them.
	process.once("exit", stopNow);
	try {
		await run(...command("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]), { cwd: dir });
		// A test cluster: nothing in it needs to survive a crash, so no fsync.
		appendFileSync(join(data, "postgresql.conf"), [
			"listen_addresses = ''",
			`unix_socket_directories = '${dir}'`,
			"fsync = off",
			"synchronous_commit = off",
			"full_page_writes = off",
			"max_connections = 200",
			"",
		].join("\n"));
		await run(...pgctl("-w", "-t", "60", "-l", join(dir, "server.log"), "start"), { cwd: dir });
	} catch (error) {
		stopNow();
		throw error;
	}
	const urlOf = (database: string) => `postgres://postgres@${encodeURIComponent(dir)}/${encodeURIComponent(database)}`;
	const url = urlOf("postgres");
	return {
		url,
		dir,
		async createDatabase(name: string) {
			if (!/^[a-z_][a-z0-9_]*$/.test(name))
				throw new Error(`not a plain database name: ${name}`);
			const client = new pg.Client({ connectionString: url });
			await client.connect();
			try {
				await client.query(`create database ${name}`);
			} finally {
				await client.end();
			}
			return urlOf(name);
		},
		async stop() {
			process.removeListener("exit", stopNow);
			stopNow();
		},
	};
}
