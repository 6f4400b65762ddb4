// Run by test/node/lin-natives.test.ts: the desktop simulator's watchdog thread. Fed for 600 ms (every 50 ms,
// timeout 200 ms), then disarmed and idle for 400 ms: no reset. Then armed at 100 ms and starved by a busy
// loop: the thread resets the board, which ends the process with the reset status.
import Timer from "timer";
import Watchdog from "watchdog";

Watchdog.arm(200);
let fed = 0;
const feeder = Timer.repeat(() => {
	Watchdog.feed();
	if (++fed === 12) {
		Timer.clear(feeder);
		Watchdog.disarm();
		trace("fed and disarmed\n");
		Timer.set(() => {
			trace("still alive after disarm\n");
			Watchdog.arm(100);
			const until = Date.now() + 3000;
			while (Date.now() < until)
				; // starve it
			trace("the watchdog did not fire\n");
		}, 400);
	}
}, 50);
