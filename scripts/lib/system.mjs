// Debian packages the project needs, installed with apt-get when running as root.
// python3, make and g++ build better-sqlite3 from source during npm ci (its prebuilt download is not
// reachable); postgresql gives the store's tests a throw-away PostgreSQL 15 server (test/node/lib/postgres.ts).
// chromium (with a font for its screenshots) runs the fleet page's browser test, driven by playwright-core.
import { execFileSync, spawnSync } from "node:child_process";

export const DEBIAN_PACKAGES = ["gcc", "make", "pkg-config", "libsodium-dev", "libcurl4-openssl-dev", "openssl",
	"python3", "g++", "postgresql", "chromium", "fonts-dejavu-core"];

function installed(name) {
	const result = spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" });
	return result.status === 0 && result.stdout.includes("install ok installed");
}

export function ensureDebianPackages(packages = DEBIAN_PACKAGES, log = console.log) {
	const missing = packages.filter((name) => !installed(name));
	if (missing.length === 0)
		return;
	if (typeof process.getuid === "function" && process.getuid() !== 0) {
		throw new Error(`missing Debian packages: ${missing.join(" ")}\n` +
			`install them with: sudo apt-get install -y ${missing.join(" ")}`);
	}
	log(`installing Debian packages: ${missing.join(" ")}`);
	const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
	execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"], env });
	execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: ["ignore", "ignore", "inherit"], env });
}
