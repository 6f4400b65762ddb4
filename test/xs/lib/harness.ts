// A small test runner for inside XS, with assertions in the style of ava. A test file registers tests
// with test(); they run one after another once the file's module body has run. The last line printed is
// "N passed, N failed"; the process exits non-zero when any test failed (by throwing at the end).
import Timer from "timer";

export type Implementation = (t: Assertions) => void | Promise<void>;

interface ThrowsExpectation {
	instanceOf?: new (...args: any[]) => unknown;
	message?: string | RegExp;
}

export class AssertionError extends Error {
	override name = "AssertionError";
}

function show(value: unknown): string {
	if (value instanceof ArrayBuffer)
		return `ArrayBuffer(${value.byteLength})`;
	if (ArrayBuffer.isView(value))
		return `${value.constructor.name}[${Array.from(value as Uint8Array).slice(0, 16).join(",")}${(value as Uint8Array).length > 16 ? ",…" : ""}]`;
	try {
		const text = JSON.stringify(value);
		return text === undefined ? String(value) : text;
	} catch {
		return String(value);
	}
}

function deepEqual(a: unknown, b: unknown): boolean {
	if (Object.is(a, b))
		return true;
	if (typeof a !== "object" || typeof b !== "object" || a === null || b === null)
		return false;
	if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b))
		return false;
	if (a instanceof ArrayBuffer)
		return deepEqual(new Uint8Array(a), new Uint8Array(b as ArrayBuffer));
	if (ArrayBuffer.isView(a)) {
		const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
		if (x.length !== y.length)
			return false;
		for (let i = 0; i < x.length; i++)
			if (!Object.is(x[i], y[i]))
				return false;
		return true;
	}
	if (a instanceof Map || a instanceof Set) {
		const x = [...a.entries()], y = [...(b as Map<unknown, unknown>).entries()];
		return deepEqual(x, y);
	}
	const ka = Object.keys(a), kb = Object.keys(b);
	if (ka.length !== kb.length)
		return false;
	return ka.every((key) => Object.prototype.hasOwnProperty.call(b, key) &&
		deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function matches(error: unknown, expected: ThrowsExpectation | undefined): string | undefined {
	if (!expected)
		return undefined;
	if (expected.instanceOf && !(error instanceof expected.instanceOf))
		return `expected an instance of ${expected.instanceOf.name}, got ${show((error as Error)?.name ?? error)}`;
	const message = (error as Error)?.message;
	if (typeof expected.message === "string" && message !== expected.message)
		return `expected message ${show(expected.message)}, got ${show(message)}`;
	if (expected.message instanceof RegExp && !expected.message.test(String(message)))
		return `expected message matching ${expected.message}, got ${show(message)}`;
	return undefined;
}

export class Assertions {
	assertions = 0;
	readonly title: string;
	constructor(title: string) {
		this.title = title;
	}
	private check(ok: boolean, message: string): void {
		this.assertions++;
		if (!ok)
			throw new AssertionError(message);
	}
	pass(): void { this.check(true, ""); }
	fail(message = "test failed via t.fail()"): never { this.check(false, message); throw new AssertionError(message); }
	is<T>(actual: T, expected: T, message?: string): void {
		this.check(Object.is(actual, expected), message ?? `t.is: ${show(actual)} is not ${show(expected)}`);
	}
	not<T>(actual: T, expected: T, message?: string): void {
		this.check(!Object.is(actual, expected), message ?? `t.not: both are ${show(actual)}`);
	}
	true(actual: unknown, message?: string): void {
		this.check(actual === true, message ?? `t.true: got ${show(actual)}`);
	}
	false(actual: unknown, message?: string): void {
		this.check(actual === false, message ?? `t.false: got ${show(actual)}`);
	}
	truthy(actual: unknown, message?: string): void {
		this.check(!!actual, message ?? `t.truthy: got ${show(actual)}`);
	}
	falsy(actual: unknown, message?: string): void {
		this.check(!actual, message ?? `t.falsy: got ${show(actual)}`);
	}
	deepEqual<T>(actual: T, expected: T, message?: string): void {
		this.check(deepEqual(actual, expected), message ?? `t.deepEqual: ${show(actual)} does not equal ${show(expected)}`);
	}
	notDeepEqual<T>(actual: T, expected: T, message?: string): void {
		this.check(!deepEqual(actual, expected), message ?? `t.notDeepEqual: both are ${show(actual)}`);
	}
	throws(fn: () => unknown, expected?: ThrowsExpectation, message?: string): unknown {
		try {
			fn();
		} catch (error) {
			const mismatch = matches(error, expected);
			this.check(!mismatch, message ?? `t.throws: ${mismatch}`);
			return error;
		}
		this.check(false, message ?? "t.throws: the function did not throw");
	}
	async throwsAsync(fn: () => Promise<unknown>, expected?: ThrowsExpectation, message?: string): Promise<unknown> {
		try {
			await fn();
		} catch (error) {
			const mismatch = matches(error, expected);
			this.check(!mismatch, message ?? `t.throwsAsync: ${mismatch}`);
			return error;
		}
		this.check(false, message ?? "t.throwsAsync: the promise did not reject");
	}
	notThrows(fn: () => unknown, message?: string): void {
		try {
			fn();
		} catch (error) {
			this.check(false, message ?? `t.notThrows: threw ${String(error)}`);
		}
		this.check(true, "");
	}
	log(...values: unknown[]): void {
		trace(`  # ${values.map((value) => typeof value === "string" ? value : show(value)).join(" ")}\n`);
	}
}

const tests: { title: string; fn: Implementation; only: boolean }[] = [];
let scheduled = false;

async function run(): Promise<void> {
	let passed = 0, failed = 0;
	const chosen = tests.some((entry) => entry.only) ? tests.filter((entry) => entry.only) : tests;
	for (const { title, fn } of chosen) {
		const t = new Assertions(title);
		try {
			await fn(t);
			if (t.assertions === 0)
				throw new AssertionError("test finished without running any assertions");
			passed++;
			trace(`ok - ${title}\n`);
		} catch (error) {
			failed++;
			const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
			trace(`not ok - ${title}\n  ${text.split("\n").join("\n  ")}\n`);
		}
	}
	trace(`${passed} passed, ${failed} failed\n`);
	if (failed > 0 || chosen.length === 0)
		throw new Error(chosen.length === 0 ? "no tests registered" : `${failed} test(s) failed`);
}

function schedule(): void {
	if (!scheduled) {
		scheduled = true;
		Timer.set(() => {
			run().catch((error) => {
				// Rethrown from a timer so that the host exits non-zero.
				Timer.set(() => { throw error; });
			});
		});
	}
}

export function test(title: string, fn: Implementation): void {
	tests.push({ title, fn, only: false });
	schedule();
}
test.only = (title: string, fn: Implementation): void => {
	tests.push({ title, fn, only: true });
	schedule();
};
