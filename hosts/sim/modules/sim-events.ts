// `sim/events`: the firmware's lines in the board's event log (JSON Lines; the host adds t, boot and ops).
// Without a board (or without --log) the events go nowhere.
const RESERVED = new Set(["t", "boot", "ops", "type"]);

export function event(type: string, fields: object = {}): void {
	const own: Record<string, unknown> = {};
	for (const [key, value] of Object.entries(fields))
		if (!RESERVED.has(key))
			own[key] = value;
	native("xs_sim_event")(type, JSON.stringify(own));
}

/** True when the firmware runs on the simulated board (`xsfota-sim board`). */
export function onBoard(): boolean {
	return native("xs_sim_board")();
}

export default { event, onBoard };
