// The record of the last manifest judged for good (tiny idle polls: client.ts sends its ETag in If-None-Match), over
// the sim's Preference, which refuses what the ESP32's NVS refuses: the largest record fits, and a record that is
// torn, foreign, or names an ETag the client would not send is dropped, never sent.
import Preference from "preference";
import { MAX_JUDGED_STATE, Records } from "fota/records";
import { MAX_ETAG } from "fota/download";
import { PreferenceStore } from "fota-moddable/store";
import { test } from "./lib/harness.js";

test("the largest judged record survives the store exactly", (t) => {
	const records = new Records(new PreferenceStore("judgedxs"));
	const etag = `"${"e".repeat(MAX_ETAG - 2)}"`;
	const state = "s".repeat(MAX_JUDGED_STATE);
	records.judged = { etag, state };
	const again = new Records(new PreferenceStore("judgedxs"));
	t.is(again.judged?.etag, etag);
	t.is(again.judged?.state, state);
	again.judged = undefined;
	t.is(Preference.get("judgedxs", "mfjudged"), undefined);
});

test("a torn, foreign or unusable judged record is dropped, and none is written with an unusable ETag", (t) => {
	for (const value of ["{\"etag\":\"\\\"abc", "{\"etag\":\"abc\",\"state\":\"x\"}", `{"etag":"\\"${"e".repeat(200)}\\"","state":"x"}`, "{\"etag\":\"\\\"a\\\"\",\"state\":7}", "null"]) {
		Preference.set("judgedbad", "mfjudged", value);
		const records = new Records(new PreferenceStore("judgedbad"));
		t.is(records.judged, undefined, value);
		t.is(Preference.get("judgedbad", "mfjudged"), undefined, `${value} was kept`);
	}
	const records = new Records(new PreferenceStore("judgedbad"));
	t.throws(() => { records.judged = { etag: "no-quotes", state: "x" }; }, { instanceOf: RangeError });
	t.throws(() => { records.judged = { etag: "\"a\"", state: "x".repeat(MAX_JUDGED_STATE + 1) }; }, { instanceOf: RangeError });
});
