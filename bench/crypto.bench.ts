// Native crypto against pure JS, both measured inside the sim host in one run (bench/xs/crypto.ts).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { round } from "./lib/stats.js";

const ROOT = resolve(fileURLToPath(import.meta.url), "../../../..");
const HOST = join(ROOT, "build/sim/xsfota-sim");

/** The firmware's module map plus noble, for benchmarks only: noble never enters the firmware manifest. */
function benchModuleMap(): string {
	const map = JSON.parse(readFileSync(join(ROOT, "build/sim/modules.json"), "utf8"));
	map["@noble/ed25519"] = join(ROOT, "node_modules/@noble/ed25519/index.js");
	map["@noble/hashes/sha2.js"] = join(ROOT, "node_modules/@noble/hashes/sha2.js");
	const path = join(ROOT, "build/sim/bench-modules.json");
	writeFileSync(path, JSON.stringify(map, null, 2) + "\n");
	return path;
}

export async function run(): Promise<Record<string, number>> {
	const result = spawnSync(HOST, ["--modules", benchModuleMap(), join(ROOT, "build/js/bench/xs/crypto.js")], { encoding: "utf8", timeout: 120000 });
	if (result.status !== 0)
		throw new Error(`crypto bench failed in the sim host: ${result.stderr || result.signal}`);
	const ms = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
	return {
		ed25519_verify_native_ms: round(ms.ed25519_verify_native_ms, 4),
		ed25519_verify_js_ms: round(ms.ed25519_verify_js_ms, 2),
		ed25519_verify_speedup: round(ms.ed25519_verify_js_ms / ms.ed25519_verify_native_ms, 1),
		sha256_1mib_native_ms: round(ms.sha256_1mib_native_ms, 3),
		sha256_1mib_js_ms: round(ms.sha256_1mib_js_ms, 1),
		sha256_speedup: round(ms.sha256_1mib_js_ms / ms.sha256_1mib_native_ms, 1),
	};
}
