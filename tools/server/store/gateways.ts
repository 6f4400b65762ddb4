// The fleet store's part for gateways (tools/gateway): which gateway each device is registered behind (an admin's
// decision, the only source of a gateway's authority to act for a device), and the last forwarded report taken from
// each gateway, so that a report a gateway sends again after a cut (it could not know it had arrived) is taken once.
// The same kysely queries on SQLite and PostgreSQL, like the rest of the store (./store.ts).
import type { Kysely, Transaction } from "kysely";
import type { Tables } from "./schema.js";

type Db = Kysely<Tables> | Transaction<Tables>;

/** Thrown inside a report's transaction when its seq was taken before: the transaction rolls back, nothing changes. */
export class DuplicateForward extends Error {
	constructor(readonly gatewayId: string, readonly seq: number) {
		super(`report ${seq} from gateway ${gatewayId} was taken before`);
	}
}

export class GatewayRegistry {
	readonly #db: Kysely<Tables>;

	constructor(db: Kysely<Tables>) {
		this.#db = db;
	}

	/** Registers the devices behind the gateway (a device behind another gateway moves); one transaction. */
	async register(gatewayId: string, deviceIds: readonly string[], at: Date): Promise<void> {
		if (deviceIds.length === 0)
			return;
		await this.#db.transaction().execute(async (trx) => {
			for (const deviceId of deviceIds)
				await trx.insertInto("gateway_devices").values({ device_id: deviceId, gateway_id: gatewayId, registered_at: at.getTime() })
					.onConflict((conflict) => conflict.column("device_id").doUpdateSet({ gateway_id: gatewayId, registered_at: at.getTime() }))
					.execute();
		});
	}

	/** Removes the devices from behind the gateway (a device behind another one stays there). */
	async unregister(gatewayId: string, deviceIds: readonly string[]): Promise<void> {
		if (deviceIds.length > 0)
			await this.#db.deleteFrom("gateway_devices").where("gateway_id", "=", gatewayId).where("device_id", "in", deviceIds).execute();
	}

	/** The devices registered behind the gateway, by id. */
	async devicesBehind(gatewayId: string): Promise<string[]> {
		const rows = await this.#db.selectFrom("gateway_devices").select("device_id").where("gateway_id", "=", gatewayId).orderBy("device_id").execute();
		return rows.map((row) => row.device_id);
	}

	/** The gateway the device is registered behind, or undefined. */
	async gatewayOf(deviceId: string): Promise<string | undefined> {
		const row = await this.#db.selectFrom("gateway_devices").select("gateway_id").where("device_id", "=", deviceId).executeTakeFirst();
		return row?.gateway_id;
	}

	/** The gateways of several devices (those registered behind one). */
	async gatewaysOf(deviceIds: readonly string[]): Promise<Map<string, string>> {
		const found = new Map<string, string>();
		for (let at = 0; at < deviceIds.length; at += 500) {
			const rows = await this.#db.selectFrom("gateway_devices").select(["device_id", "gateway_id"])
				.where("device_id", "in", deviceIds.slice(at, at + 500)).execute();
			for (const row of rows)
				found.set(row.device_id, row.gateway_id);
		}
		return found;
	}

	/** The last seq taken from the gateway (0 before any). */
	async lastSeq(gatewayId: string, db: Db = this.#db): Promise<number> {
		const row = await db.selectFrom("gateway_cursors").select("last_seq").where("gateway_id", "=", gatewayId).executeTakeFirst();
		return row ? Number(row.last_seq) : 0;
	}

	/** Inside a report's transaction: moves the gateway's cursor to seq, or throws DuplicateForward when seq is not
	 * above it (then the transaction, and the report with it, is rolled back). */
	async advance(trx: Transaction<Tables>, gatewayId: string, seq: number): Promise<void> {
		if (!Number.isSafeInteger(seq) || seq < 1)
			throw new RangeError(`a forwarded report's seq must be a positive integer, not ${seq}`);
		const last = await this.lastSeq(gatewayId, trx);
		if (seq <= last)
			throw new DuplicateForward(gatewayId, seq);
		await trx.insertInto("gateway_cursors").values({ gateway_id: gatewayId, last_seq: seq })
			.onConflict((conflict) => conflict.column("gateway_id").doUpdateSet({ last_seq: seq }))
			.execute();
	}

	/** Moves the cursor outside a report (a refused report is not taken, but it is not asked about again either). */
	async skip(gatewayId: string, seq: number): Promise<void> {
		await this.#db.transaction().execute(async (trx) => {
			if (seq > await this.lastSeq(gatewayId, trx))
				await trx.insertInto("gateway_cursors").values({ gateway_id: gatewayId, last_seq: seq })
					.onConflict((conflict) => conflict.column("gateway_id").doUpdateSet({ last_seq: seq }))
					.execute();
		});
	}
}
