// Command-line options for one command, parsed strictly with node:util's parseArgs.
import { parseArgs } from "node:util";
import { CliError, USAGE } from "./errors.js";

export interface Command {
	name: string;
	usage: string;
	options: Record<string, { required?: boolean; flag?: boolean }>;
	run(values: Record<string, string | undefined>): Promise<void> | void;
}

/** Parses argv for `command`; returns undefined when help was asked for (after printing it). */
export function parseOptions(command: Command, argv: string[]): Record<string, string | undefined> | undefined {
	const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
	for (const [name, spec] of Object.entries(command.options))
		options[name] = { type: spec.flag ? "boolean" : "string" };
	let values: Record<string, string | boolean | undefined>;
	try {
		({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
	}
	catch (error) {
		throw new CliError(`${(error as Error).message.split("\n")[0]}\n\n${command.usage}`, USAGE);
	}
	if (values.help) {
		console.log(command.usage);
		return undefined;
	}
	const out: Record<string, string | undefined> = {};
	for (const [name, spec] of Object.entries(command.options)) {
		const value = values[name];
		if (spec.required && (value === undefined || value === ""))
			throw new CliError(`missing --${name}\n\n${command.usage}`, USAGE);
		out[name] = typeof value === "boolean" ? String(value) : value;
	}
	return out;
}

/** A non-negative integer given in decimal, at most `max`. */
export function integerOption(name: string, text: string, max: number): number {
	if (!/^(0|[1-9]\d*)$/.test(text) || Number(text) > max)
		throw new CliError(`--${name} must be an integer from 0 to ${max}, not ${JSON.stringify(text)}`, USAGE);
	return Number(text);
}
