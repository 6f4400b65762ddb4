// Uint8Array.fromBase64 (ES2026, in XS since Moddable 7): missing from TypeScript's es2023 lib.
interface Uint8ArrayConstructor {
	fromBase64(text: string, options?: { alphabet?: "base64" | "base64url"; lastChunkHandling?: "loose" | "strict" | "stop-before-partial" }): Uint8Array;
}
