// The fleet page (tools/server/page.ts, tools/server/page/) in a real browser: Debian's chromium, headless, driven by
// playwright-core, against the real server and its real fleet store (devices seeded through the store's
// recordReport, as the server stores a device's report). It checks what a person sees: the fleet's counts, the
// device table filtered and searched with each device's last error, a device's history, a wrong token refused, the
// page following new reports without a reload, and a rollout that halts itself: its stage bars, its cause, the
// failures' reasons, and an abort. It saves screenshots in a temporary folder, and in docs/images/ for the README
// when XSFOTA_SCREENSHOTS=1.
import test from "ava";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ROOT, type World } from "../../tools/demo/world.js";
import { importMapOf } from "../../tools/server/page.js";
import type { DeviceReport } from "../../tools/server/store/store.js";
import { world } from "./lib.js";

const CHROMIUM = "/usr/bin/chromium";
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** the page polls every 2 s; a change must show within a few polls */
const LIVE_MS = 8000;
const SHOTS = mkdtempSync(join(tmpdir(), "xs-fota-page-shots-"));
const README_SHOTS = process.env.XSFOTA_SCREENSHOTS === "1" ? join(ROOT, "docs/images") : undefined;

let w: World;
let browser: Browser;
let token: string;

test.before(async () => {
	w = await world();
	({ token } = await w.store.createToken("page-test", new Date()));
	browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
});

test.after.always(async () => {
	await browser?.close();
	await w?.stop();
});

async function report(fields: Omit<DeviceReport, "product"> & { product?: string }): Promise<void> {
	await w.store.recordReport({ product: "demo-board", ...fields }, new Date(), 100);
}

/** A tab of its own (the token lives in the tab's sessionStorage), the server's certificate taken as it is. */
async function tab(viewport = LAPTOP): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
	const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
	const page = await context.newPage();
	const problems: string[] = [];
	page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
	page.on("console", (message) => {
		// a refused token is a 401 the page expects; anything else the console reports is a fault of the page
		if (message.type() === "error" && !/status of 40[14]/.test(message.text()))
			problems.push(`console: ${message.text()}`);
	});
	return { context, page, problems };
}

async function signIn(page: Page, value = token): Promise<void> {
	await page.goto(`${w.url}/`);
	await page.getByLabel("Admin token", { exact: true }).fill(value);
	await page.getByRole("button", { name: "Open the fleet" }).click();
}

async function shoot(page: Page, name: string): Promise<void> {
	const file = join(SHOTS, name);
	await page.screenshot({ path: file, fullPage: true });
	if (README_SHOTS) {
		mkdirSync(README_SHOTS, { recursive: true });
		copyFileSync(file, join(README_SHOTS, name));
	}
}

/** Waits until a table (the devices' by default) has n rows. (The browser's code is given as text: this project
 * compiles for Node, without the DOM's types.) */
async function rows(page: Page, n: number, table = "table.devices"): Promise<void> {
	await page.waitForFunction(`document.querySelectorAll(${JSON.stringify(`${table} tbody tr`)}).length === ${n}`, undefined, { timeout: LIVE_MS });
}

/** The device ids of the table's rows, in order. */
const rowIds = (page: Page) => page.locator("table.devices tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-device")));

function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
	return new Promise((resolve, reject) => {
		request(`${w.url}${path}`, { method, ca: readFileSync(w.certs.ca), headers }, (response) => {
			const chunks: Buffer[] = [];
			response.on("data", (chunk: Buffer) => chunks.push(chunk));
			response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
		}).on("error", reject).end();
	});
}

test.serial("the page's files: a fixed list, a strict policy that admits the import map by its hash, nosniff, ETags", async (t) => {
	const index = await get("/");
	t.is(index.status, 200);
	t.is(index.headers["content-type"], "text/html; charset=utf-8");
	t.is(index.headers["x-content-type-options"], "nosniff");
	const policy = String(index.headers["content-security-policy"]);
	const hash = createHash("sha256").update(importMapOf(index.body.toString("utf8"))).digest("base64");
	t.true(policy.includes(`script-src 'self' 'sha256-${hash}'`), policy);
	t.true(policy.includes("default-src 'none'") && policy.includes("connect-src 'self'") && !policy.includes("unsafe"), policy);
	const etag = String(index.headers.etag);
	t.is((await get("/", { "if-none-match": etag })).status, 304);
	for (const [path, type] of [["/page/app.js", "text/javascript"], ["/page/style.css", "text/css"], ["/page/vendor/preact/preact.mjs", "text/javascript"],
		["/page/vendor/preact/hooks.mjs", "text/javascript"], ["/page/vendor/htm/preact.mjs", "text/javascript"], ["/page/icon.svg", "image/svg+xml"]] as const) {
		const file = await get(path);
		t.is(file.status, 200, path);
		t.true(String(file.headers["content-type"]).startsWith(type), `${path}: ${file.headers["content-type"]}`);
		t.truthy(file.headers.etag, path);
	}
	t.deepEqual(readFileSync(join(ROOT, "node_modules/preact/dist/preact.mjs")), (await get("/page/vendor/preact/preact.mjs")).body);
	for (const path of ["/page/../package.json", "/page/%2e%2e/package.json", "/page/vendor/../../README.md", "/page/", "/page/index.html", "/page/vendor/preact/package.json"])
		t.is((await get(path)).status, 404, path);
	t.is((await get("/page/app.js", {}, "HEAD")).body.length, 0);
	t.is((await get("/v1/admin/devices")).status, 401, "the page needs no token; the API does");
});

test.serial("a wrong token: the page says the server refused it and asks again", async (t) => {
	const { context, page, problems } = await tab();
	try {
		await signIn(page, "not-the-token");
		const alert = page.getByRole("alert");
		await alert.waitFor({ timeout: LIVE_MS });
		t.regex(await alert.innerText(), /refused the token \(HTTP 401: the token is not valid\)/);
		t.true(await page.getByLabel("Admin token", { exact: true }).isVisible());
		t.is(await page.evaluate("sessionStorage.length"), 0, "the refused token is not kept");
		await page.getByLabel("Admin token", { exact: true }).fill("no spaces allowed");
		await page.getByRole("button", { name: "Open the fleet" }).click();
		t.regex(await page.getByRole("alert").last().innerText(), /1 to 128 letters, digits/);
		t.deepEqual(problems, []);
	} finally {
		await context.close();
	}
});

test.serial("the fleet: counts by product, version and state, a table filtered and searched with the last errors, a device's history, all live", async (t) => {
	for (let i = 0; i < 24; i++) {
		const deviceId = `door-${String(i).padStart(3, "0")}`;
		const failed = i % 6 === 0;
		await report({ deviceId, version: "1.0.0", state: "valid" });
		if (i % 2 === 0) {
			await report({ deviceId, version: "1.0.0", target: "2.0.0", state: "downloading" });
			await report({ deviceId, version: failed ? "1.0.0" : "2.0.0", target: "2.0.0", state: failed ? "rolled-back" : "valid", ...(failed ? { error: "selftest-failed" } : {}) });
		}
	}
	for (let i = 0; i < 5; i++)
		await report({ deviceId: `lock-${i}`, product: "lock-pro", version: "3.1.0", state: i === 4 ? "rejected" : "valid", ...(i === 4 ? { error: "bad-signature" } : {}) });
	const { context, page, problems } = await tab();
	try {
		await signIn(page);
		// the counts: 29 devices; demo-board 12 on 2.0.0 and 12 on 1.0.0, 4 rolled back; lock-pro 1 rejected
		await page.getByText("29 devices in 2 products").waitFor({ timeout: LIVE_MS });
		const board = page.getByRole("article", { name: "product demo-board" });
		t.regex(await board.innerText(), /24 devices/);
		t.is(await board.getByRole("list", { name: "demo-board by version" }).innerText().then((text) => text.replace(/\s+/g, " ").trim()), "1.0.0 16 2.0.0 8");
		t.regex(await board.getByRole("list", { name: "demo-board by state" }).innerText(), /valid\s+20[\s\S]*rolled-back\s+4/);
		t.regex(await page.getByRole("article", { name: "product lock-pro" }).innerText(), /rejected\s+1/);
		// the table: every device, each with its last error
		await page.locator("table.devices tbody tr").first().waitFor();
		t.is((await rowIds(page)).length, 29);
		t.regex(await page.locator('tr[data-device="door-006"]').innerText(), /rolled-back[\s\S]*selftest-failed/);
		t.regex(await page.locator('tr[data-device="lock-4"]').innerText(), /rejected[\s\S]*bad-signature/);
		t.notRegex(await page.locator('tr[data-device="door-002"]').innerText(), /selftest-failed/);
		await shoot(page, "fleet-page-laptop.png");
		// filters: a state, then a product and a version from the counts; the address keeps them
		await page.getByLabel("State").selectOption("rolled-back");
		await rows(page, 4);
		t.deepEqual(await rowIds(page), ["door-000", "door-006", "door-012", "door-018"]);
		t.regex(page.url(), /#\/\?state=rolled-back$/);
		await page.getByRole("button", { name: "Clear filters" }).click();
		await board.getByRole("button", { name: /2\.0\.0\s+8/ }).click();
		await rows(page, 8);
		t.is(await page.getByLabel("Product").inputValue(), "demo-board");
		t.is(await page.getByLabel("Version").inputValue(), "2.0.0");
		// search, on top of the filters cleared
		await page.getByRole("button", { name: "Clear filters" }).click();
		await page.getByRole("searchbox", { name: "Search" }).fill("lock-");
		await rows(page, 5);
		t.deepEqual(await rowIds(page), ["lock-0", "lock-1", "lock-2", "lock-3", "lock-4"]);
		await page.getByRole("searchbox", { name: "Search" }).fill("no-such-device");
		await page.getByText("No device matches these filters.").waitFor({ timeout: LIVE_MS });
		await page.getByRole("button", { name: "Clear filters" }).click();
		await rows(page, 29);

		// live: a new device and a new failure show up without a reload (the page's own state survives)
		await page.evaluate("window.notReloaded = true"); // gone if the page reloads
		await report({ deviceId: "door-100", version: "1.0.0", target: "2.0.0", state: "rolled-back", error: "selftest-timeout" });
		await page.locator('tr[data-device="door-100"]').waitFor({ timeout: LIVE_MS });
		t.regex(await page.locator('tr[data-device="door-100"]').innerText(), /selftest-timeout/);
		await page.getByText("30 devices in 2 products").waitFor({ timeout: LIVE_MS });
		t.regex(await board.getByRole("list", { name: "demo-board by state" }).innerText(), /rolled-back\s+5/);
		t.true(await page.evaluate("window.notReloaded === true"), "the page was not reloaded");

		// one device: its history, newest first, and it follows new reports too
		await page.getByRole("link", { name: "door-006" }).click();
		await page.getByRole("heading", { name: "Device door-006" }).waitFor();
		const history = page.locator("table.history tbody tr");
		await history.first().waitFor({ timeout: LIVE_MS });
		t.deepEqual((await history.allInnerTexts()).map((row) => row.split(/\s+/).filter((word) => /^[a-z]+(-[a-z]+)*$/.test(word))),
			[["rolled-back", "selftest-failed"], ["downloading"], ["valid"]]);
		t.regex(await page.locator(".facts").innerText(), /Last error\s+selftest-failed/);
		await report({ deviceId: "door-006", version: "2.0.0", state: "valid" });
		await rows(page, 4, "table.history");
		t.regex(await history.first().innerText(), /valid/);
		t.regex(await page.locator(".facts").innerText(), /Last error\s+none/);
		await shoot(page, "fleet-page-device.png");
		await page.goBack();
		await page.locator("table.devices").waitFor();
		t.true(await page.evaluate("window.notReloaded === true"), "the page was not reloaded");

		// a phone: the same page, one card per device
		await page.setViewportSize(PHONE);
		await page.getByLabel("State").selectOption("rolled-back");
		await rows(page, 4);
		const width = await page.evaluate("document.documentElement.scrollWidth") as number;
		t.true(width <= PHONE.width, `the page is ${width} px wide on a ${PHONE.width} px phone`);
		await shoot(page, "fleet-page-phone.png");
		t.deepEqual(problems, []);
	} finally {
		await context.close();
	}
});
