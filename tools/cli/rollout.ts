// `xs-fota rollout create|list|show|pause|resume|abort`: staged rollouts through the server's admin API
// (tools/server/rollouts.ts; shapes in tools/server/admin-api.ts). The server checks the spec; the options here only
// turn the command line into it, and `show` prints a rollout's stages in a few lines a person can read.
import { CliError, USAGE } from "./errors.js";
import { client, CLIENT_OPTIONS, CLIENT_USAGE, show } from "./admin.js";
import { adminPaths, type RolloutSpec, type RolloutView } from "../server/admin-api.js";
import { integerOption, type Command } from "./options.js";

function number(name: string, text: string): number {
	const value = Number(text);
	if (text.trim() === "" || !Number.isFinite(value))
		throw new CliError(`--${name} must be a number, not ${JSON.stringify(text)}`, USAGE);
	return value;
}

/** "1,10,50,100" (percentages) → [0.01, 0.1, 0.5, 1]. */
function stagesOf(text: string): number[] {
	return text.split(",").map((part) => number("stages", part.trim().replace(/%$/, "")) / 100);
}

function rolloutId(text: string | undefined): number {
	if (!text || !/^[1-9][0-9]{0,14}$/.test(text))
		throw new CliError("the rollout id is a positive whole number (xs-fota rollout list)", USAGE);
	return Number(text);
}

/** A rollout in a few lines: its state and cause, then a line per stage. */
export function describe(view: RolloutView): string {
	const lines = [`rollout ${view.id}: ${view.product} ${view.version} (sequence ${view.sequence}) [${view.state}] ${view.cause}`];
	if (view.waiting)
		lines.push(`  waiting: ${view.waiting}`);
	if (!view.windowOpen && view.nextWindow)
		lines.push(`  outside its maintenance windows; the next opens at ${view.nextWindow}`);
	const t = view.thresholds;
	lines.push(`  thresholds: success ${t.success * 100}%, error ${t.error * 100}% after ${t.minDevices} devices, soak ${t.soakSeconds} s, timeout ${t.timeoutSeconds} s`);
	view.stages.forEach((stage, i) => {
		lines.push(`  stage ${i + 1} (${Math.round(stage.share * 1000) / 10}%) ${stage.opened ? "open  " : "closed"} ${stage.devices} devices: ` +
			`${stage.succeeded} succeeded, ${stage.inProgress} in progress, ${stage.failed} failed, ${stage.waiting} waiting`);
	});
	if (view.failures.length)
		lines.push(`  failures: ${view.failures.map((failure) => `${failure.count} ${failure.reason}`).join(", ")}`);
	for (const event of view.events ?? [])
		lines.push(`  ${event.at} ${event.state}: ${event.cause}`);
	return lines.join("\n");
}

const create: Command = {
	name: "rollout create",
	usage: `usage: xs-fota rollout create --product P (--version V | --config N) [--stages 1,10,50,100 | --exponential FIRST,FACTOR]
       [--from-version V]... [--device ID]... [--success PCT] [--error PCT] [--min-devices N] [--soak S] [--timeout S]
       [--start ISO-TIME] [--window "CRON|MINUTES|TIME-ZONE"]... [--json] [--server URL] [--ca FILE] [--token T]

Rolls release V of product P (published with xs-fota publish --staged), or its config document of sequence N
(pushed with xs-fota config push --staged: success is the device keeping it after its trial, failure its rollback or
refusal), out in stages: percentages of the target
(default 1,10,50,100), or an exponential rate (e.g. 1,2: 1%, 2%, 4%, ... 100%). The target is the product's devices,
or those now running one of the --from-version versions, and/or the --device ids. A stage opens when the one
before reaches --success % of its devices (default 95) and has soaked --soak seconds; the rollout halts itself
when more than --error % (default 5) of the finished devices failed (rolled back, rejected, or silent for
--timeout seconds after they started, default 3600), counted once --min-devices (default 10) have finished.
--start delays it; each --window "0 2 * * *|120|Europe/Paris" (cron, minutes, time zone) is a maintenance window:
devices start the update only inside one. ${CLIENT_USAGE}`,
	options: {
		product: { required: true }, version: {}, config: {}, stages: {}, exponential: {}, "from-version": { multiple: true }, device: { multiple: true },
		success: {}, error: {}, "min-devices": {}, soak: {}, timeout: {}, start: {}, window: { multiple: true }, json: { flag: true }, ...CLIENT_OPTIONS,
	},
	async run(values, lists) {
		if ((values.version === undefined) === (values.config === undefined))
			throw new CliError("give --version (a staged release) or --config (a staged config document's sequence), one of them", USAGE);
		const spec: RolloutSpec = { product: values.product!, ...(values.version !== undefined ? { version: values.version }
			: { config: integerOption("config", values.config!, Number.MAX_SAFE_INTEGER) }) };
		if (values.stages !== undefined && values.exponential !== undefined)
			throw new CliError("give --stages or --exponential, not both", USAGE);
		if (values.stages !== undefined)
			spec.stages = stagesOf(values.stages);
		if (values.exponential !== undefined) {
			const [first, factor, ...rest] = values.exponential.split(",");
			if (first === undefined || factor === undefined || rest.length)
				throw new CliError("--exponential is FIRST-PERCENT,FACTOR, e.g. 1,2", USAGE);
			spec.exponential = { first: number("exponential", first) / 100, factor: number("exponential", factor) };
		}
		const filter: RolloutSpec["filter"] = {};
		if (lists["from-version"]!.length)
			filter.versions = lists["from-version"];
		if (lists.device!.length)
			filter.devices = lists.device;
		if (filter.versions || filter.devices)
			spec.filter = filter;
		const thresholds: NonNullable<RolloutSpec["thresholds"]> = {};
		if (values.success !== undefined)
			thresholds.success = number("success", values.success) / 100;
		if (values.error !== undefined)
			thresholds.error = number("error", values.error) / 100;
		if (values["min-devices"] !== undefined)
			thresholds.minDevices = number("min-devices", values["min-devices"]);
		if (values.soak !== undefined)
			thresholds.soakSeconds = number("soak", values.soak);
		if (values.timeout !== undefined)
			thresholds.timeoutSeconds = number("timeout", values.timeout);
		if (Object.keys(thresholds).length)
			spec.thresholds = thresholds;
		if (values.start !== undefined)
			spec.startAt = values.start;
		if (lists.window!.length) {
			spec.windows = lists.window!.map((text) => {
				const [cron, minutes, timeZone, ...rest] = text.split("|").map((part) => part.trim());
				if (!cron || !minutes || !timeZone || rest.length)
					throw new CliError(`--window ${JSON.stringify(text)} must be "CRON|MINUTES|TIME-ZONE", e.g. "0 2 * * *|120|Europe/Paris"`, USAGE);
				return { cron, durationMinutes: number("window", minutes), timeZone };
			});
		}
		const view = await client(values)("POST", adminPaths.rollouts(), spec) as RolloutView;
		console.log(values.json === "true" ? JSON.stringify(view, null, 2) : describe(view));
	},
};

const list: Command = {
	name: "rollout list",
	usage: `usage: xs-fota rollout list [--product P] [--json] [--server URL] [--ca FILE] [--token T]\n\nNewest first. ${CLIENT_USAGE}`,
	options: { product: {}, json: { flag: true }, ...CLIENT_OPTIONS },
	async run(values) {
		const views = await client(values)("GET", `${adminPaths.rollouts()}${values.product ? `?product=${encodeURIComponent(values.product)}` : ""}`) as RolloutView[];
		if (values.json === "true")
			return show(views);
		console.log(views.length ? views.map((view) => describe(view)).join("\n") : "no rollouts");
	},
};

const showOne: Command = {
	name: "rollout show",
	positionals: ["id"],
	usage: `usage: xs-fota rollout show ID [--json] [--server URL] [--ca FILE] [--token T]\n\nThe rollout's stages, failures and every state change with its cause. ${CLIENT_USAGE}`,
	options: { json: { flag: true }, ...CLIENT_OPTIONS },
	async run(values) {
		const view = await client(values)("GET", adminPaths.rollout(rolloutId(values.id))) as RolloutView;
		console.log(values.json === "true" ? JSON.stringify(view, null, 2) : describe(view));
	},
};

function action(name: "pause" | "resume" | "abort", text: string): Command {
	return {
		name: `rollout ${name}`,
		positionals: ["id"],
		usage: `usage: xs-fota rollout ${name} ID${name === "resume" ? " [--error PCT] [--success PCT]" : ""} [--server URL] [--ca FILE] [--token T]\n\n${text} ${CLIENT_USAGE}`,
		options: { ...(name === "resume" ? { error: {}, success: {} } : {}), ...CLIENT_OPTIONS },
		async run(values) {
			const body: { thresholds?: { error?: number; success?: number } } = {};
			if (values.error !== undefined || values.success !== undefined)
				body.thresholds = {
					...(values.error !== undefined ? { error: number("error", values.error) / 100 } : {}),
					...(values.success !== undefined ? { success: number("success", values.success) / 100 } : {}),
				};
			console.log(describe(await client(values)("POST", adminPaths.rolloutAction(rolloutId(values.id), name), body) as RolloutView));
		},
	};
}

export const ROLLOUT_COMMANDS: Command[] = [
	create, list, showOne,
	action("pause", "Stops offering the release to devices that have not started it; those that have go on."),
	action("resume", "Goes on with a paused or halted rollout. A halted one halts again while its failures are over the error threshold: resume it with a higher --error only when the failures are understood."),
	action("abort", "Stops the release from being served to any device that does not run it yet. Devices that run it keep it; they roll back only if their own trial fails."),
];
