// Reading a stored file by byte range, in pieces, so that an image is never held whole in memory to be served.
import { closeSync, openSync, readSync } from "node:fs";

/** Reads [start, end] (inclusive) of a file in pieces. */
export function* readRange(path: string, start: number, end: number, piece = 64 * 1024): Generator<Buffer> {
	const fd = openSync(path, "r");
	try {
		for (let at = start; at <= end; ) {
			const buffer = Buffer.allocUnsafe(Math.min(piece, end - at + 1));
			const read = readSync(fd, buffer, 0, buffer.length, at);
			if (read <= 0)
				return;
			yield buffer.subarray(0, read);
			at += read;
		}
	} finally {
		closeSync(fd);
	}
}
