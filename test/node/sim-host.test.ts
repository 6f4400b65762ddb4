// The sim host as a program: what firmware gets, and how failures end the process.
import test from "ava";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runHost } from "./lib/run-host.js";
import { fixture } from "./lib/paths.js";

test("runs a compiled TS module that imports a module, calls a native with a Uint8Array and awaits a Timer", (t) => {
	const run = runHost(fixture("sim/hello.js"));
	t.is(run.status, 0, run.stderr);
	// digest[0] of SHA-256(01 02 03) is 0x03 = 3
	t.is(run.stdout, "hello from a second module digest[0]=3 waited=true\n");
});

test("a module that throws exits non-zero with the error and file:line", (t) => {
	const run = runHost(fixture("sim/throws.js"));
	t.not(run.status, 0);
	t.regex(run.stderr, /uncaught exception: Error: boom at load/);
	t.regex(run.stderr, /throws\.js:\d+/);
});

test("an exception thrown in a timer callback exits non-zero with file:line", (t) => {
	const run = runHost(fixture("sim/timer-throws.js"));
	t.not(run.status, 0);
	t.regex(run.stderr, /TypeError: thrown in a timer/);
	t.regex(run.stderr, /timer-throws\.js:\d+/);
});

test("an unhandled rejection exits non-zero with file:line", (t) => {
	const run = runHost(fixture("sim/rejects-later.js"));
	t.not(run.status, 0);
	t.regex(run.stderr, /unhandled rejection: RangeError: nobody handles this/);
	t.regex(run.stderr, /rejects-later\.js:\d+/);
});

test("a top-level await that never settles exits non-zero", (t) => {
	const run = runHost(fixture("sim/never-settles.js"));
	t.not(run.status, 0);
	t.regex(run.stderr, /top-level await never settled/);
	t.notRegex(run.stdout, /unreachable/);
});

test("an unknown native name fails the import with a clear error", (t) => {
	const run = runHost(fixture("sim/unknown-native.js"));
	t.not(run.status, 0);
	t.regex(run.stderr, /native\("xs_fixture_missing"\): no such native/);
	t.regex(run.stderr, /unknown-native\.js:\d+/);
});

test("an unknown bare specifier and a syntax error fail with clear messages", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-host-"));
	writeFileSync(join(dir, "bare.js"), 'import x from "no/such/module";\n');
	writeFileSync(join(dir, "syntax.js"), "const ok = 1;\nlet broken = ;\n");
	const bare = runHost(join(dir, "bare.js"));
	t.not(bare.status, 0);
	t.regex(bare.stderr, /module "no\/such\/module" not found/);
	const syntax = runHost(join(dir, "syntax.js"));
	t.not(syntax.status, 0);
	t.regex(syntax.stderr, /syntax\.js:2: syntax error/);
});

test("the host sleeps until the next timer instead of spinning", (t) => {
	const run = runHost(fixture("sim/idle.js"));
	t.is(run.status, 0, run.stderr);
	t.true(run.wallMs >= 300);
	// A busy loop would burn ~300 ms of CPU; a sleeping one uses a few ms.
	t.true(run.cpuMs < 100, `used ${run.cpuMs} ms of CPU while idle for 300 ms`);
});

test("--memory-report writes the machine's peak XS memory as JSON", (t) => {
	const report = join(mkdtempSync(join(tmpdir(), "xs-fota-mem-")), "memory.json");
	const run = runHost(fixture("sim/hello.js"), ["--memory-report", report]);
	t.is(run.status, 0, run.stderr);
	const memory = JSON.parse(readFileSync(report, "utf8"));
	t.true(memory.peak >= memory.peakChunks + memory.peakSlots - 1);
	t.true(memory.peakChunks > 0 && memory.peakSlots > 0);
});

test("compiling a RegExp does not ask the system for the C stack each time (glibc reads /proc/self/maps to answer), and the limit still guards", (t) => {
	const dir = mkdtempSync(join(tmpdir(), "xs-fota-regexp-"));
	const file = join(dir, "regexps.js");
	// 2000 compiles: about 250 ms when each asks pthread_getattr_np, a few ms with the limit kept per thread
	writeFileSync(file, `
const start = Date.now();
let matched = 0;
for (let i = 0; i < 2000; i++)
	if (new RegExp("^a" + i + "$").test("a" + i)) matched++;
const ms = Date.now() - start;
let deep;
try { new RegExp("(".repeat(100000) + "a" + ")".repeat(100000)); deep = "compiled"; } catch (error) { deep = error.name; }
trace(JSON.stringify({ matched, ms, deep }) + "\\n");
`);
	const run = runHost(file);
	t.is(run.status, 0, run.stderr);
	const result = JSON.parse(run.stdout);
	t.is(result.matched, 2000);
	t.true(result.ms < 80, `2000 RegExp compiles took ${result.ms} ms`);
	t.is(result.deep, "SyntaxError"); // a pattern nested past the C stack's limit is refused, not a crash
});
