// The XS engine sources come from the pinned npm package @agoric/xsnap. Its tarball is fetched with
// `npm pack` (no install, so none of its install scripts run), checked against the pinned integrity,
// and unpacked under build/vendor/xsnap.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

export const XSNAP_PACKAGE = "@agoric/xsnap@0.15.0";
export const XSNAP_INTEGRITY = "sha512-ZBm4DZxbtfacxMHVVdJjZi0Y8zOxN77vpu1WwI5RWfPkaRh0aHkz/dVdTGKXalDNzWfz183lljKxlxl3/h0n+A==";

export function ensureEngineSources(root, log = console.log) {
	const target = join(root, "build/vendor/xsnap");
	const marker = join(target, ".xs-fota-source");
	if (existsSync(marker) && readFileSync(marker, "utf8") === XSNAP_INTEGRITY)
		return target;
	log(`fetching the XS engine sources from ${XSNAP_PACKAGE}`);
	const scratch = mkdtempSync(join(tmpdir(), "xs-fota-xsnap-"));
	try {
		const name = execFileSync("npm", ["pack", XSNAP_PACKAGE, "--silent", "--pack-destination", scratch],
			{ encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop();
		const tarball = join(scratch, name);
		const integrity = "sha512-" + createHash("sha512").update(readFileSync(tarball)).digest("base64");
		if (integrity !== XSNAP_INTEGRITY)
			throw new Error(`${XSNAP_PACKAGE}: integrity mismatch (got ${integrity}); refusing to build from it`);
		rmSync(target, { recursive: true, force: true });
		mkdirSync(target, { recursive: true });
		execFileSync("tar", ["xzf", tarball, "-C", target, "--strip-components=1"]);
		writeFileSync(marker, XSNAP_INTEGRITY);
	} finally {
		rmSync(scratch, { recursive: true, force: true });
	}
	return target;
}
