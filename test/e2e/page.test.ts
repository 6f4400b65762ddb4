// The fleet page (tools/server/page.ts, tools/server/page/) in a real browser: Debian's chromium, headless, driven by
// playwright-core, against the real server and its real fleet store (devices seeded through the store's
// recordReport, as the server stores a device's report). It checks what a person sees: the fleet's counts, the
// device table filtered and searched with each device's last error, a device's history, a wrong token refused, the
// page following new reports without a reload, and a rollout that halts itself: its stage bars, its cause, the
// failures' reasons, and an abort; each device's config (its document, the factory copy marked, the one waiting for it)
// and on a device's page its config history and last known good config. The page's modules type-check (tools/server/page/tsconfig.json). It saves
// screenshots in a temporary folder, and in docs/images/ for the README when XSFOTA_SCREENSHOTS=1.
import test from "ava";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ROOT, type World } from "../../tools/demo/world.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";
import { importMapOf } from "../../tools/server/page.js";
import { publishRelease } from "../../tools/server/publish.js";
import { stageOf } from "../../tools/server/rollout.js";
import type { RolloutView } from "../../tools/server/admin-api.js";
import type { DeviceReport } from "../../tools/server/store/store.js";
import { world } from "./lib.js";
import { generateKeyPairSync } from "node:crypto";
import { keyIdOf, nodeSha256, rawPublicKey } from "../../tools/cli/keys.js";
import { nodeVerify } from "../../tools/cli/verifier.js";
import { signConfigDoc } from "../../tools/release/config-doc.js";
import { acceptConfigDoc } from "../../tools/server/configs.js";

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

/** Waits until a table (the devices' by default) has n rows. (Polled from here: the page's Content-Security-Policy
 * forbids the eval that page.waitForFunction would need, as it should.) */
async function rows(page: Page, n: number, table = "table.devices"): Promise<void> {
	const deadline = Date.now() + LIVE_MS;
	let seen = -1;
	while ((seen = await page.locator(`${table} tbody tr`).count()) !== n) {
		if (Date.now() > deadline)
			throw new Error(`${table} shows ${seen} rows, not ${n}, after ${LIVE_MS} ms`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

/** The device ids of the table's rows, in order. */
const rowIds = (page: Page) => page.locator("table.devices tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-device")));

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** A request to the server over HTTPS; as a device when given its certificate. */
function send(path: string, options: { method?: string; headers?: Record<string, string>; body?: unknown; device?: { key: string; cert: string } } = {}): Promise<Answer> {
	const body = options.body === undefined ? undefined : JSON.stringify(options.body);
	const headers = { ...options.headers, ...(body === undefined ? {} : { "content-type": "application/json" }) };
	return new Promise((resolve, reject) => {
		request(`${w.url}${path}`, { method: options.method ?? "GET", ca: readFileSync(w.certs.ca), headers, agent: false, ...options.device }, (response) => {
			const chunks: Buffer[] = [];
			response.on("data", (chunk: Buffer) => chunks.push(chunk));
			response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
		}).on("error", reject).end(body);
	});
}

const get = (path: string, headers: Record<string, string> = {}, method = "GET") => send(path, { method, headers });

/** The admin API's JSON answer, with the test's token. */
async function admin<T>(path: string, body?: unknown): Promise<T> {
	const answer = await send(path, { method: body === undefined ? "GET" : "POST", headers: { authorization: `Bearer ${token}` }, body });
	if (answer.status >= 300)
		throw new Error(`${path}: ${answer.status} ${answer.body.toString()}`);
	return JSON.parse(answer.body.toString());
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

test("the page's modules type-check against the DOM, preact, htm and the admin API's types", (t) => {
	const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tools/server/page/tsconfig.json")], { encoding: "utf8" });
	t.is(tsc.status, 0, tsc.stdout + tsc.stderr);
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
		await page.getByRole("combobox", { name: "State" }).selectOption("rolled-back");
		await rows(page, 4);
		t.deepEqual(await rowIds(page), ["door-000", "door-006", "door-012", "door-018"]);
		t.regex(page.url(), /#\/\?state=rolled-back$/);
		await page.getByRole("button", { name: "Clear filters" }).click();
		await board.getByRole("button", { name: /2\.0\.0\s+8/ }).click();
		await rows(page, 8);
		t.is(await page.getByRole("combobox", { name: "Product" }).inputValue(), "demo-board");
		t.is(await page.getByRole("combobox", { name: "Version" }).inputValue(), "2.0.0");
		// search, on top of the filters cleared
		await page.getByRole("button", { name: "Clear filters" }).click();
		await page.getByRole("searchbox", { name: "Search" }).fill("lock-");
		await rows(page, 5);
		t.deepEqual(await rowIds(page), ["lock-0", "lock-1", "lock-2", "lock-3", "lock-4"]);
		await page.getByRole("searchbox", { name: "Search" }).fill("signature");
		await rows(page, 1);
		t.deepEqual(await rowIds(page), ["lock-4"], "a search finds a device by its last error too");
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

		// a hidden tab asks the server nothing, and catches up as soon as it shows
		const asked: string[] = [];
		page.on("request", (sent) => { if (sent.url().includes("/v1/admin/")) asked.push(sent.url()); });
		await page.evaluate(`Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
			document.dispatchEvent(new Event("visibilitychange"))`);
		await page.getByText("Paused while hidden").waitFor();
		await new Promise((resolve) => setTimeout(resolve, 500)); // a fetch already under way may end
		asked.length = 0;
		await new Promise((resolve) => setTimeout(resolve, 4500));
		t.deepEqual(asked, [], "no request while hidden");
		await report({ deviceId: "door-101", version: "1.0.0", state: "valid" });
		await page.evaluate(`delete document.hidden; document.dispatchEvent(new Event("visibilitychange"))`);
		await page.locator('tr[data-device="door-101"]').waitFor({ timeout: 3000 });
		t.false(await page.getByText("Paused while hidden").isVisible());

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
		await page.getByRole("combobox", { name: "State" }).selectOption("rolled-back");
		await rows(page, 4);
		const width = await page.evaluate("document.documentElement.scrollWidth") as number;
		t.true(width <= PHONE.width, `the page is ${width} px wide on a ${PHONE.width} px phone`);
		await shoot(page, "fleet-page-phone.png");
		t.deepEqual(problems, []);
	} finally {
		await context.close();
	}
});

test.serial("a rollout that halts itself: the page shows the stage bars, the cause, the failures' reasons, and aborts it", async (t) => {
	// a product of its own: 40 valves on 1.0.0, and 2.0.0 published staged, for rollouts only
	const product = "valve";
	await w.store.addProduct(product, new Date());
	await w.store.addKey(product, w.keyId, Buffer.from(w.publicKey).toString("hex"));
	const ids = Array.from({ length: 40 }, (_, i) => `valve-${String(i).padStart(2, "0")}`);
	for (const deviceId of ids)
		await report({ deviceId, product, version: "1.0.0", state: "valid" });
	const image = Buffer.from(createHash("sha512").update("valve 2.0.0").digest("hex").repeat(64));
	const release = { version: "2.0.0", sequence: 2, securityVersion: 1, image };
	const published = await publishRelease(w.store, w.images, product, w.sign(release, { product }), image, new Date(), { staged: true });
	t.true(published.ok, JSON.stringify(published));
	const stages = [0.2, 0.5, 1];
	const created = await admin<RolloutView>("/v1/admin/rollouts", { product, version: "2.0.0", stages,
		thresholds: { success: 0.9, error: 0.2, minDevices: 4, soakSeconds: 0, timeoutSeconds: 3600 } });
	t.is(created.state, "running");
	// which valves the first stage holds: a stable hash of the release and the device (tools/server/rollout.ts)
	const first = ids.filter((id) => stageOf(`${product}\n2`, id, stages) === 0);
	const later = ids.filter((id) => !first.includes(id));
	t.true(first.length >= 7, `only ${first.length} valves in the first stage`);

	const { context, page, problems } = await tab();
	try {
		await signIn(page);
		await page.getByRole("link", { name: "Rollouts" }).click();
		const card = page.locator(".card.rollout").first();
		await card.waitFor({ timeout: LIVE_MS });
		t.regex(await card.innerText(), /#\d+ valve → 2\.0\.0[\s\S]*running[\s\S]*started: stage 1 of 3/);
		await card.getByRole("link").click();
		await page.getByRole("heading", { name: /Rollout #\d+ valve → 2\.0\.0/ }).waitFor();
		await page.evaluate("window.notReloaded = true");
		const status = page.getByRole("status");
		await status.getByText("running").waitFor({ timeout: LIVE_MS });
		t.deepEqual(await page.locator(".actions button").allInnerTexts(), ["Pause", "Abort…"]);

		// the devices, as devices: mutual TLS, each with its own certificate. Seven of the first stage ask for the
		// manifest and get it, one valve of a later stage gets nothing; then three succeed, three fail, one is under way.
		const [outside] = later;
		const refused = await send(`/v1/products/${product}/manifest`, { device: makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId: outside! }) });
		t.is(refused.status, 404, "a valve outside the opened stage gets no manifest");
		const outcomes: Partial<DeviceReport>[] = [
			{ version: "2.0.0", state: "valid" }, { version: "2.0.0", state: "valid" }, { version: "2.0.0", state: "valid" },
			{ version: "1.0.0", target: "2.0.0", state: "downloading" },
			{ version: "1.0.0", target: "2.0.0", state: "rolled-back", error: "selftest-failed: the pressure sensor does not answer" },
			{ version: "1.0.0", target: "2.0.0", state: "rolled-back", error: "selftest-failed: the pressure sensor does not answer" },
			{ version: "1.0.0", target: "2.0.0", state: "rejected", error: "hash-mismatch" },
		];
		const devices = outcomes.map((_, i) => ({ deviceId: first[i]!, ...makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId: first[i]! }) }));
		for (const device of devices) {
			const manifest = await send(`/v1/products/${product}/manifest`, { device });
			t.is(manifest.status, 200, `${device.deviceId} in the first stage gets the manifest`);
		}
		for (const [i, device] of devices.entries()) {
			const answer = await send(`/v1/devices/${device.deviceId}/report`, { method: "POST", device, body: { product, ...outcomes[i] } });
			t.is(answer.status, 204, answer.body.toString());
		}

		// the halt, as the page shows it, live
		await status.getByText("halted", { exact: true }).waitFor({ timeout: LIVE_MS });
		t.deepEqual(await page.locator(".actions button").allInnerTexts(), ["Resume", "Abort…"]);
		const stage = (n: number) => page.getByRole("listitem", { name: `stage ${n}` });
		const legend = async (n: number) => (await stage(n).locator(".legend").innerText()).replace(/\s+/g, " ").trim();
		// the halt may come before the last reports: the numbers settle at the next poll
		const settled = `3 succeeded 1 in progress 3 failed ${first.length - 7} waiting`;
		for (const deadline = Date.now() + LIVE_MS; await legend(1) !== settled && Date.now() < deadline;)
			await new Promise((resolve) => setTimeout(resolve, 100));
		t.is(await legend(1), settled);
		const view = await admin<RolloutView>(`/v1/admin/rollouts/${created.id}`);
		t.is(view.state, "halted");
		t.regex(view.cause, /^halted: \d+ of \d+ failed \(\d+(\.\d)?% > 20(\.0)?%\) in stage 1/);
		t.is(await status.locator(".cause").innerText(), view.cause, "the cause, as the server says it");
		t.regex((await stage(1).innerText()).replace(/\s+/g, " "), new RegExp(`Stage 1 · 20% of the target · ${first.length} devices opened \\d{4}-`));
		t.is(await stage(1).getByRole("img").getAttribute("aria-label"), `Stage 1: 3 succeeded, 1 in progress, 3 failed, ${first.length - 7} waiting of ${first.length}`);
		for (const [i, s] of view.stages.entries())
			t.is(await legend(i + 1), `${s.succeeded} succeeded ${s.inProgress} in progress ${s.failed} failed ${s.waiting} waiting`);
		t.regex(await stage(2).innerText(), /not opened/);
		t.deepEqual((await page.locator("table.failures tbody tr").allInnerTexts()).map((row) => row.replace(/\s+/g, " ").trim()),
			["selftest-failed 2", "hash-mismatch 1"]);
		t.regex(await page.locator(".facts").first().innerText(), /Halts above\s+20% failed, once 4 devices finished/);
		const events = await page.locator(".events li").allInnerTexts();
		t.regex(events[0]!, /halted/);
		t.regex(events.at(-1)!, /started: stage 1 of 3/);
		await shoot(page, "fleet-page-rollout-halted.png");
		await page.setViewportSize(PHONE);
		await shoot(page, "fleet-page-rollout-phone.png");
		await page.setViewportSize(LAPTOP);

		// abort: asked once more, then done; the page shows it, and the buttons go
		await page.getByRole("button", { name: "Abort…" }).click();
		const question = page.getByRole("alertdialog");
		t.regex(await question.innerText(), /Abort rollout #\d+\?/);
		await question.getByRole("button", { name: "Abort rollout" }).click();
		await status.getByText("aborted", { exact: true }).waitFor({ timeout: LIVE_MS });
		t.regex(await status.locator(".cause").innerText(), /^aborted by page-test/);
		t.is(await page.locator(".actions button").count(), 0);
		t.is((await admin<RolloutView>(`/v1/admin/rollouts/${created.id}`)).state, "aborted");
		t.regex((await page.locator(".events li").allInnerTexts())[0]!, /aborted/);
		t.true(await page.evaluate("window.notReloaded === true"), "the page was not reloaded");
		t.deepEqual(problems, []);
	} finally {
		await context.close();
	}
});

test.serial("markup a device sends is shown as text and never runs (its error, its version, its history)", async (t) => {
	const hostile = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`;
	await report({ deviceId: "evil-1", product: "evil", version: "<b>9</b>", state: "rolled-back", error: hostile, target: "<i>x</i>" });
	const { context, page, problems } = await tab();
	try {
		await signIn(page);
		await page.getByRole("searchbox", { name: "Search" }).fill("evil-1");
		await rows(page, 1);
		const row = page.locator('tr[data-device="evil-1"]');
		t.true((await row.innerText()).includes(hostile), "the error is not shown as its text");
		t.true((await row.innerText()).includes("<b>9</b>"));
		t.is(await row.locator("img, script, b, i").count(), 0, "a device's text became markup");
		await page.getByRole("link", { name: "evil-1" }).click();
		await page.getByText(hostile).first().waitFor({ timeout: LIVE_MS });
		t.is(await page.locator("main img, main script").count(), 0);
		t.is(await page.evaluate("window.pwned"), undefined, "the device's markup ran");
		t.deepEqual(problems, []);
	} finally {
		await context.close();
	}
});

test.serial("each device's config in the table (factory copy marked, pending documents), and a device's config history and last known good", async (t) => {
	// a product of its own with a config key; document 1 for every heater, document 2 for heater-2 alone
	const product = "heater";
	await w.store.addProduct(product, new Date());
	await w.store.addKey(product, w.keyId, Buffer.from(w.publicKey).toString("hex"));
	const { privateKey, publicKey } = generateKeyPairSync("ed25519");
	const configKey = { keyId: keyIdOf(rawPublicKey(publicKey)), publicKey: rawPublicKey(publicKey), privateKey };
	await w.store.addKey(product, configKey.keyId, Buffer.from(configKey.publicKey).toString("hex"), "config");
	const settings = { server: w.url, ca: readFileSync(w.certs.ca, "utf8"), keys: [{ keyId: w.keyId, publicKey: Buffer.from(w.publicKey).toString("hex") }],
		configKeys: [{ keyId: configKey.keyId, publicKey: Buffer.from(configKey.publicKey).toString("hex") }] };
	for (const [sequence, devices] of [[1, undefined], [2, ["heater-2"]]] as const) {
		const bytes = signConfigDoc({ product, ...(devices ? { devices: [...devices] } : {}), sequence, settings: { ...settings, pollSeconds: 60 * sequence } }, configKey, nodeVerify, nodeSha256);
		t.like(await acceptConfigDoc(w.store, bytes, { by: "page-test" }), { ok: true, sequence });
	}
	const config = (sequence: number, source: "working" | "factory", lost?: string[]) =>
		({ sha256: createHash("sha256").update(`heater config ${sequence}`).digest("hex"), fields: { pollSeconds: 60 * sequence }, sequence, source, ...(lost ? { lost } : {}) });
	// heater-1 keeps 1, then loses both working copies; heater-2 keeps 1 and rolls 2 back; heater-3 runs its factory config
	await report({ deviceId: "heater-1", product, version: "1.0.0", state: "config-valid", configTarget: 1, config: config(1, "working") });
	await report({ deviceId: "heater-1", product, version: "1.0.0", state: "valid", config: config(0, "factory", ["working-0", "working-1"]) });
	await report({ deviceId: "heater-2", product, version: "1.0.0", state: "config-valid", configTarget: 1, config: config(1, "working") });
	await report({ deviceId: "heater-2", product, version: "1.0.0", state: "config-trying", configTarget: 2, config: config(1, "working") });
	await report({ deviceId: "heater-2", product, version: "1.0.0", state: "config-rolled-back", configTarget: 2, config: config(1, "working"),
		error: "config-selftest-failed: update-server: connect ECONNREFUSED" });
	await report({ deviceId: "heater-3", product, version: "1.0.0", state: "valid", config: config(0, "factory") });

	const { context, page, problems } = await tab();
	try {
		await signIn(page);
		await page.getByRole("searchbox", { name: "Search" }).fill("heater-");
		await rows(page, 3);
		const cell = async (id: string) => (await page.locator(`tr[data-device="${id}"] td.config-cell`).innerText()).replace(/\s+/g, " ").trim();
		t.is(await cell("heater-1"), "config 0 factory → config 1", "on its factory copy, its last good document waits for it");
		t.is(await cell("heater-2"), "config 1", "document 2 failed there: not offered again");
		t.is(await cell("heater-3"), "config 0 factory → config 1");
		t.is(await page.locator('tr[data-device="heater-1"] td.config-cell .badge').innerText(), "factory");
		// the documents the server holds, newest first: for whom, and how they are given
		const docs = page.locator("table.config-docs tbody tr");
		await docs.first().waitFor({ timeout: LIVE_MS });
		t.deepEqual((await docs.allInnerTexts()).map((row) => row.replace(/\s+/g, " ").trim().replace(/ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d by page-test$/, "")),
			["heater config 2 heater-2 at the next check server, ca, keys, configKeys, pollSeconds", "heater config 1 every device at the next check server, ca, keys, configKeys, pollSeconds"]);
		await shoot(page, "fleet-page-config.png");

		// heater-1: the factory copy, the lost copies, its last known good config, the pending document, the history
		await page.getByRole("link", { name: "heater-1" }).click();
		await page.getByRole("heading", { name: "Device heater-1" }).waitFor();
		const facts = page.locator(".config-facts");
		await facts.waitFor({ timeout: LIVE_MS });
		const text = (await facts.innerText()).replace(/\s+/g, " ");
		t.regex(text, /Runs config 0 factory/);
		t.regex(text, /Lost copies working-0, working-1/);
		t.regex(text, new RegExp(`Last known good config 1 ${config(1, "working").sha256.slice(0, 12)} · kept \\d{4}-`));
		t.regex(text, /Pending config 1/);
		const history = page.locator("table.config-history tbody tr");
		t.deepEqual((await history.allInnerTexts()).map((row) => row.replace(/\s+/g, " ").trim()).map((row) => row.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, "")),
			["config changed config 0 (factory) lost: working-0, working-1", "config-valid config 1 config 1", "config changed config 1"]);
		// heater-2: the document that failed there, with the reason its config came back with
		await page.goBack();
		await page.getByRole("link", { name: "heater-2" }).click();
		await page.getByRole("heading", { name: "Device heater-2" }).waitFor();
		await page.locator(".config-facts").waitFor({ timeout: LIVE_MS });
		const failed = (await page.locator(".config-facts").innerText()).replace(/\s+/g, " ");
		t.regex(failed, /Failed here config 2: config-rolled-back config-selftest-failed: update-server: connect ECONNREFUSED/);
		t.regex(failed, /Pending nothing/);
		t.regex((await page.locator("table.config-history tbody tr").first().innerText()).replace(/\s+/g, " "), /config-rolled-back config 2 config 1 config-selftest-failed/);
		await shoot(page, "fleet-page-device-config.png");
		t.deepEqual(problems, []);
	} finally {
		await context.close();
	}
});
