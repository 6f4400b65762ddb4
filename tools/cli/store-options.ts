// Which fleet store a command opens: --database URL (or DATABASE_URL) for PostgreSQL, else SQLite in
// DATA/fleet.db (--data, default ./xs-fota-data). Shared by serve and admin token create, so both open the same one.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError } from "./errors.js";
import { openStore, type FleetStore } from "../server/store/store.js";

export async function openFleetStore(values: Record<string, string | undefined>): Promise<FleetStore> {
	const url = values.database ?? process.env.DATABASE_URL;
	if (url !== undefined && !/^postgres(ql)?:\/\//.test(url))
		throw new CliError(`--database (or DATABASE_URL) must be a postgres:// URL, not ${JSON.stringify(url)}`);
	const data = resolve(values.data ?? "xs-fota-data");
	mkdirSync(data, { recursive: true });
	try {
		return await openStore(url ? { url } : { file: join(data, "fleet.db") });
	} catch (error) {
		throw new CliError(`cannot open the fleet store: ${(error as Error).message}`);
	}
}
