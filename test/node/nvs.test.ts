// The NVS limits the sim's Preference and the tests' store enforce (modules/fota/nvs.ts): a string of more than
// 3999 UTF-8 bytes is refused, counted in bytes, not in UTF-16 units, on both sides of the short-string fast path.
import test from "ava";
import { checkNvsValue, NVS_MAX_STRING_BYTES } from "../../modules/fota/nvs.js";

const fits = (value: string) => { checkNvsValue("k", value); return true; };

test("strings up to 3999 UTF-8 bytes fit NVS, longer ones are refused, whatever their characters", (t) => {
	t.is(NVS_MAX_STRING_BYTES, 3999);
	t.true(fits("x".repeat(3999)));
	t.throws(() => checkNvsValue("k", "x".repeat(4000)), { instanceOf: RangeError, message: /3999 bytes/ });
	t.true(fits("€".repeat(1333)));                            // 3 bytes each: 3999
	t.throws(() => checkNvsValue("k", "€".repeat(1334)), { instanceOf: RangeError }); // 4002 bytes in 1334 units
	t.true(fits("😀".repeat(999)));                            // a surrogate pair, 4 bytes: 3996
	t.throws(() => checkNvsValue("k", "😀".repeat(1000)), { instanceOf: RangeError }); // 4000 bytes
	t.true(fits("é".repeat(1333)));                            // short enough to need no count
	t.true(fits(JSON.stringify({ sequence: 2, sha256: "a".repeat(64), size: 1048576, slot: 1, offset: 16384 })));
});
