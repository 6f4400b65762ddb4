// A fake clock for the rollout engine's tests: a time that moves only when a test advances it, so soaks, timeouts
// and maintenance windows are reached at once and alike on every run.
export class Clock {
	ms = Date.UTC(2026, 11, 4, 9, 0, 0);
	now = () => this.ms;
	advance(seconds: number) {
		this.ms += seconds * 1000;
	}
}
