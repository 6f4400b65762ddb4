// The example firmware. For now: hello from the XS engine, with a native SHA-256 and a timer.
import Timer from "timer";
import SHA256 from "crypto/sha256";
import TextEncoder from "text/encoder";
import { hex } from "./hex.js";

const digest = SHA256.hash(new TextEncoder().encode("hello, xs-fota"));
trace(`xs-fota hello firmware\nsha256("hello, xs-fota") = ${hex(digest)}\n`);
await new Promise<void>((resolve) => Timer.set(() => resolve(), 10));
trace("timer fired; bye\n");
