// Command-line options for one command, parsed strictly with node:util's parseArgs.
import { parseArgs } from "node:util";
import { CliError, USAGE } from "./errors.js";

export interface Command {
	/** one or more words: "serve", "admin token create" */
	name: string;
	usage: string;
	/** names of the positional arguments it takes, in order (all required) */
	positionals?: string[];
	/** multiple: the option may repeat; its values reach run() in `lists` */
	options: Record<string, { required?: boolean; flag?: boolean; multiple?: boolean }>;
	run(values: Record<string, string | undefined>, lists: Record<string, string[]>): Promise<void> | void;
}

export interface Parsed {
	values: Record<string, string | undefined>;
	lists: Record<string, string[]>;
}

/** Parses argv for `command`; returns undefined when help was asked for (after printing it). */
export function parseOptions(command: Command, argv: string[]): Parsed | undefined {
	const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = { help: { type: "boolean" } };
	for (const [name, spec] of Object.entries(command.options))
		options[name] = { type: spec.flag ? "boolean" : "string", ...(spec.multiple ? { multiple: true } : {}) };
	let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
	try {
		let positionals: string[];
		({ values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: !!command.positionals }));
		const names = command.positionals ?? [];
		if (!values.help && positionals.length !== names.length)
			throw new Error(names.length ? `expects ${names.map((name) => name.toUpperCase()).join(" ")}` : "takes no positional arguments");
		names.forEach((name, index) => { values[name] = positionals[index]; });
	}
	catch (error) {
		throw new CliError(`${(error as Error).message.split("\n")[0]}\n\n${command.usage}`, USAGE);
	}
	if (values.help) {
		console.log(command.usage);
		return undefined;
	}
	const out: Record<string, string | undefined> = {};
	const lists: Record<string, string[]> = {};
	for (const name of command.positionals ?? [])
		out[name] = values[name] as string;
	for (const [name, spec] of Object.entries(command.options)) {
		const value = values[name];
		if (spec.multiple) {
			lists[name] = (Array.isArray(value) ? value : []).map(String);
			if (spec.required && !lists[name].length)
				throw new CliError(`missing --${name}\n\n${command.usage}`, USAGE);
			continue;
		}
		if (spec.required && (value === undefined || value === ""))
			throw new CliError(`missing --${name}\n\n${command.usage}`, USAGE);
		out[name] = typeof value === "boolean" ? String(value) : value as string | undefined;
	}
	return { values: out, lists };
}

/** A non-negative integer given in decimal, at most `max`. */
export function integerOption(name: string, text: string, max: number): number {
	if (!/^(0|[1-9]\d*)$/.test(text) || Number(text) > max)
		throw new CliError(`--${name} must be an integer from 0 to ${max}, not ${JSON.stringify(text)}`, USAGE);
	return Number(text);
}
