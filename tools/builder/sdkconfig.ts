// One setting per option in the sdkconfig that mcconfig generates for the ESP32. Moddable's merge
// (tools/mcmanifest.js in the SDK) takes the SDK's base sdkconfig.defaults and an app's: an app's NAME=value replaces
// a base line only when the base has NAME=...; otherwise it is appended, after a base "# NAME is not set" that stays;
// and an app's NAME=n is written NAME= (empty). ESP-IDF's kconfig takes the last assignment and ignores an empty
// one (so the values come out right: checked with kconfiglib against the generated file), but a reader, or a tool
// that takes the first line, sees two settings or none. This rewrites the file so that each option is set once:
// its last assignment, with NAME= as "# NAME is not set". The order of the options is kept.
export interface Normalized {
	text: string;
	/** what changed, one line each, for the build log */
	changes: string[];
}

const ASSIGNMENT = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const NOT_SET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;

export function normalizeSdkconfig(text: string): Normalized {
	const lines = text.split(/\r?\n/);
	const last = new Map<string, number>();
	const nameOf = (line: string) => ASSIGNMENT.exec(line)?.[1] ?? NOT_SET.exec(line)?.[1];
	lines.forEach((line, index) => {
		const name = nameOf(line);
		if (name)
			last.set(name, index);
	});
	const changes: string[] = [];
	const out: string[] = [];
	lines.forEach((line, index) => {
		const name = nameOf(line);
		if (!name)
			return void out.push(line);
		if (last.get(name) !== index) {
			changes.push(`dropped line ${index + 1} "${line}": ${name} is set again on line ${last.get(name)! + 1}`);
			return;
		}
		const assignment = ASSIGNMENT.exec(line);
		if (assignment && assignment[2] === "") {
			changes.push(`line ${index + 1}: "${line}" written as "# ${name} is not set"`);
			return void out.push(`# ${name} is not set`);
		}
		out.push(line);
	});
	return { text: out.join("\n"), changes };
}

/** The options set more than once, or set to nothing: what normalizeSdkconfig removes. */
export function sdkconfigProblems(text: string): string[] {
	const seen = new Map<string, number>();
	const problems: string[] = [];
	text.split(/\r?\n/).forEach((line, index) => {
		const assignment = ASSIGNMENT.exec(line);
		const name = assignment?.[1] ?? NOT_SET.exec(line)?.[1];
		if (!name)
			return;
		if (seen.has(name))
			problems.push(`${name} is set on lines ${seen.get(name)! + 1} and ${index + 1}`);
		seen.set(name, index);
		if (assignment && assignment[2] === "")
			problems.push(`${name} is set to nothing on line ${index + 1}`);
	});
	return problems;
}
