// `sim/events`: the firmware's lines in the board's event log (JSON Lines; the host adds t, boot and ops).
// Without a board (or without --log) the events go nowhere.
// An event costs its line's text and little else: the fields are written straight from the object given, the keys
// the host owns (RESERVED) left out by a replacer (a module function: no entries array, no copy of the fields, no
// closure) when the fields have any of them, and without one otherwise (the replacer's holder object and its calls,
// at every event: a download writes one at every chunk).
const RESERVED = new Set(["t", "boot", "ops", "type"]);

/** the fields object being written: its own reserved keys are left out (a nested object's are not) */
let writing: object | undefined;

function ownFields(this: unknown, key: string, value: unknown): unknown {
	return this === writing && RESERVED.has(key) ? undefined : value;
}

export function event(type: string, fields: object = {}): void {
	let line: string;
	if (!("t" in fields || "boot" in fields || "ops" in fields || "type" in fields)) // as most are: no replacer to call
		line = JSON.stringify(fields);
	else {
		writing = fields;
		try {
			line = JSON.stringify(fields, ownFields);
		} finally {
			writing = undefined; // also when the fields cannot be written (a cycle, a BigInt): the next event starts clean
		}
	}
	native("xs_sim_event")(type, line);
}

/** True when the firmware runs on the simulated board (`xsfota-sim board`). */
export function onBoard(): boolean {
	return native("xs_sim_board")();
}

export default { event, onBoard };
