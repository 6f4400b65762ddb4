// The device config's copies (modules/fota/config-store.ts): the newest intact working copy wins; a torn write or
// erase at any byte leaves the old copy or the new one; with both working copies gone the factory copy serves, and
// says so; the identity's secrets never leave the factory copy; fields this version does not know are kept.
import test from "ava";
import { decodeRecord, encodeRecord, loadConfig, writeTrialCopy, BODY_SCHEMA } from "../../modules/fota/config-store.js";
import { crc32 } from "../../modules/fota/crc32.js";
import { Records } from "../../modules/fota/records.js";
import { nodeSha256 } from "../../tools/cli/keys.js";
import { MapStore } from "./fakes/device.js";
import { FakeConfigFlash, PowerClock, PowerCut } from "./fakes/config-flash.js";
import { factory } from "./lib/config.js";

function provisioned(raw = factory()) {
	const flash = new FakeConfigFlash();
	flash.poke("factory", encodeRecord("good", 0, { schema: BODY_SCHEMA, sequence: 0, config: raw }));
	const records = new Records(new MapStore());
	return { flash, records, load: () => loadConfig(flash, records, nodeSha256) };
}

test("nothing provisioned: undefined; the factory copy alone: source factory, sequence 0", (t) => {
	const blank = new FakeConfigFlash();
	t.is(loadConfig(blank, new Records(new MapStore()), nodeSha256), undefined);
	const { load } = provisioned();
	t.like(load(), { source: "factory", area: "factory", sequence: 0, trial: false, damaged: [] });
	t.is(load()!.config.deviceId, "dev-1");
});

test("the factory copy may be format 1 (provisioned before working copies existed) or bare JSON (an ESP32 NVS blob)", (t) => {
	const raw = factory();
	const json = new TextEncoder().encode(JSON.stringify(raw));
	const legacy = new Uint8Array(16 + json.length);
	legacy.set([0x58, 0x53, 0x44, 0x43, 1, 0, 0, 0]);
	new DataView(legacy.buffer).setUint32(8, json.length, true);
	new DataView(legacy.buffer).setUint32(12, crc32(json), true);
	legacy.set(json, 16);
	const flash = new FakeConfigFlash();
	flash.poke("factory", legacy);
	const loaded = loadConfig(flash, new Records(new MapStore()), nodeSha256)!;
	t.like(loaded, { source: "factory", sequence: 0 });
	t.is(loaded.config.digest, Buffer.from(nodeSha256(json)).toString("hex"), "the digest is the one a format-1 device reported");
	t.like(decodeRecord(json, true), { format: 0, sequence: 0 });
	t.is(decodeRecord(json), "no record header", "bare JSON is a factory copy only");
	legacy[20] ^= 1;
	t.is(decodeRecord(legacy, true), "CRC mismatch");
});

test("a trial copy goes to the spare area with a higher count, without the TLS secrets, keeping unknown fields", (t) => {
	const raw = { ...factory(), futureSetting: [1, 2] };
	const { flash, records, load } = provisioned(raw);
	// the secrets are written only by provisioning: a raw with them is written without them
	const next = { ...raw, pollSeconds: 30, clientKey: "secret", clientCertificates: "secret" };
	const first = writeTrialCopy(flash, load()!, next, 4);
	t.deepEqual(first, { area: "working-1", count: 1 });
	const record = decodeRecord(flash.read("working-1")!);
	t.true(typeof record !== "string");
	if (typeof record === "string")
		return;
	t.false("clientKey" in record.config || "clientCertificates" in record.config);
	t.deepEqual(record.config.futureSetting, [1, 2]);
	t.like(load(), { source: "working", area: "working-1", sequence: 4, count: 1, trial: true });
	records.configConfirmed = 1;
	t.like(load(), { area: "working-1", trial: false });
	t.is(load()!.config.pollSeconds, 30);
	const second = writeTrialCopy(flash, load()!, { ...raw, pollSeconds: 20 }, 9);
	t.deepEqual(second, { area: "working-2", count: 2 }, "never the area it runs from");
	t.like(load(), { area: "working-2", sequence: 9, trial: true });
});

test("unknown top-level fields of a newer version's record body are kept when the device writes a copy", (t) => {
	const { flash, records, load } = provisioned();
	flash.poke("working-1", encodeRecord("good", 3, { schema: 2, sequence: 2, config: factory({ pollSeconds: 10 }), history: ["from v9"] }));
	records.configConfirmed = 3;
	t.like(load(), { area: "working-1", sequence: 2 });
	writeTrialCopy(flash, load()!, factory({ pollSeconds: 11 }), 3);
	const record = decodeRecord(flash.read("working-2")!);
	t.like(record, { count: 4, sequence: 3, body: { history: ["from v9"], schema: BODY_SCHEMA } });
});

test("the identity comes from the factory copy: a working copy cannot change the device's id or secrets", (t) => {
	const { flash, records, load } = provisioned();
	flash.poke("working-1", encodeRecord("good", 1, { schema: 1, sequence: 1, config: factory({ deviceId: "someone-else", pollSeconds: 5 }) }));
	records.configConfirmed = 1;
	t.like(load()!.config, { deviceId: "dev-1", pollSeconds: 5 });
});

test("both working copies damaged: the factory copy serves, and the damage is named", (t) => {
	const { flash, records, load } = provisioned();
	flash.poke("working-1", encodeRecord("good", 1, { schema: 1, sequence: 1, config: factory({ pollSeconds: 5 }) }));
	flash.poke("working-2", encodeRecord("good", 2, { schema: 1, sequence: 2, config: factory({ pollSeconds: 6 }) }));
	records.configConfirmed = 2;
	t.like(load(), { area: "working-2", sequence: 2 });
	flash.areas["working-2"][30] ^= 0xff;
	t.like(load(), { area: "working-1", sequence: 1 }, "the newest intact copy");
	flash.areas["working-1"][30] ^= 0xff;
	const loaded = load()!;
	t.like(loaded, { source: "factory", sequence: 0 });
	t.deepEqual(loaded.damaged.map((d) => d.area).sort(), ["working-1", "working-2"]);
	t.is(loaded.topCount, 2, "a new copy still gets a higher count than any confirmed one");
	// a copy that checks out but holds an invalid config is damaged too: the next one serves
	flash.poke("working-1", encodeRecord("good", 5, { schema: 1, sequence: 5, config: factory({ server: "http://x" }) }));
	const invalid = load()!;
	t.is(invalid.source, "factory");
	t.regex(invalid.damaged.find((d) => d.area === "working-1")!.why, /server must be an https/);
});

test("a torn write or erase at any point leaves the old config or the new one, never neither", (t) => {
	let outcomes = { old: 0, new: 0 };
	for (let cutAfter = 0; cutAfter < 2; cutAfter++)
		for (let seed = 1; seed <= 150; seed++) {
			const { flash, records, load } = provisioned();
			const power = new PowerClock(seed);
			Object.assign(flash, { power });
			flash.poke("working-1", encodeRecord("good", 1, { schema: 1, sequence: 1, config: factory({ pollSeconds: 7 }) }));
			records.configConfirmed = 1;
			power.cutAfter = cutAfter; // 0: the erase is torn; 1: the write is
			t.throws(() => writeTrialCopy(flash, load()!, factory({ pollSeconds: 8 }), 2), { instanceOf: PowerCut });
			const after = load()!;
			t.true(after.config.pollSeconds === 7 || (after.config.pollSeconds === 8 && after.trial));
			outcomes[after.config.pollSeconds === 7 ? "old" : "new"]++;
		}
	t.true(outcomes.old > 0, "torn writes were seen");
	t.log(outcomes);
});
