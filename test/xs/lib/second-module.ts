// Imported by host.test.ts to show that one compiled module imports another.
export function twice(value: number): number {
	return value * 2;
}
