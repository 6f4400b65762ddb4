// The download record and its offset (modules/fota/records.ts): the record is written when a download begins or its
// ETag changes, the offset alone at every checkpoint. A reset between any two of the store's writes must never pair
// a record with another record's offset: the download would resume over bytes of another image.
import test from "ava";
import { Records, type Progress } from "../../modules/fota/records.js";
import { MapStore } from "../../tools/fleet/node-ports.js";
import type { StoreValue } from "../../modules/fota/ports.js";

/** A store that takes `allowed` more writes (set or delete) and then loses power: the write throws and changes nothing. */
class CutStore extends MapStore {
	allowed = Infinity;
	override set(key: string, value: StoreValue) {
		if (this.allowed-- <= 0)
			throw new Error("power cut");
		super.set(key, value);
	}
	override delete(key: string) {
		if (this.allowed-- <= 0)
			throw new Error("power cut");
		super.delete(key);
	}
}

const A: Progress = { sequence: 2, sha256: "aa".repeat(32), size: 600_000, slot: 1, offset: 491_520, etag: '"a"' };
const B: Progress = { sequence: 3, sha256: "bb".repeat(32), size: 800_000, slot: 1, offset: 16_384, etag: '"b"' };

test("a checkpoint moves the offset alone: a number in its own key, the record untouched", (t) => {
	const store = new MapStore();
	const records = new Records(store);
	records.progress = A;
	const record = store.values.get("download");
	t.false(String(record).includes("offset"));
	records.checkpoint(507_904);
	t.is(store.values.get("download"), record);
	t.is(store.values.get("dloffset"), 507_904);
	t.deepEqual(records.progress, { ...A, offset: 507_904 });
	for (const bad of [-1, 1.5, 2 ** 31, NaN]) {
		t.throws(() => records.checkpoint(bad), { instanceOf: RangeError });
		t.throws(() => { records.progress = { ...B, offset: bad }; }, { instanceOf: RangeError });
	}
	t.deepEqual(records.progress, { ...A, offset: 507_904 }, "a refused record changed what was kept");
	records.progress = undefined;
	t.is(records.progress, undefined);
	t.false(store.values.has("download") || store.values.has("dloffset"));
});

test("a record from an older client keeps its offset inside; the offset's own key wins when both are there", (t) => {
	const store = new MapStore();
	store.set("download", JSON.stringify(A));
	const records = new Records(store);
	t.is(records.progress?.offset, A.offset);
	records.checkpoint(507_904);
	t.is(records.progress?.offset, 507_904);
	store.set("download", JSON.stringify({ ...A, offset: undefined }));
	store.delete("dloffset");
	t.is(records.progress?.offset, -1, "a record with no offset anywhere must not be resumed");
});

test("a reset at any write of a new record leaves the old record with its own offset, no record, or the new one with its offset", (t) => {
	for (let allowed = 0; allowed <= 4; allowed++) {
		const store = new CutStore();
		const records = new Records(store);
		records.progress = A;
		store.allowed = allowed;
		try {
			records.progress = B;
		} catch (error) {
			t.is((error as Error).message, "power cut");
		}
		const after = new Records(store).progress;
		t.true(after === undefined || (after.sequence === A.sequence && after.offset === A.offset) || (after.sequence === B.sequence && after.offset === B.offset),
			`${allowed} writes landed: ${JSON.stringify(after)}`);
	}
});
