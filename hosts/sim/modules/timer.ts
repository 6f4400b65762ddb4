// Moddable's `timer` module for the sim host, over the host's event loop (hosts/sim/c/timer.c).
type Callback = (timer: Timer) => void;

export default class Timer {
	private declare brand: boolean;
	static set(callback: Callback, interval?: number, repeat?: number): Timer {
		return native("xs_timer_set")(callback, interval, repeat);
	}
	static repeat(callback: Callback, interval: number): Timer {
		return native("xs_timer_set")(callback, interval, interval);
	}
	static schedule(timer: Timer, interval?: number, repeat?: number): void {
		native("xs_timer_schedule")(timer, interval, repeat);
	}
	static clear(timer: Timer | undefined | null): void {
		native("xs_timer_clear")(timer);
	}
	static delay(milliseconds: number): void {
		native("xs_timer_delay")(milliseconds);
	}
}
