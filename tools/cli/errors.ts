// A failure the CLI reports in one line, without a stack, and exits non-zero.
export class CliError extends Error {
	override name = "CliError";
	constructor(message: string, readonly exitCode = 1) {
		super(message);
	}
}

/** Exit code for bad usage (unknown option, missing value). */
export const USAGE = 2;
