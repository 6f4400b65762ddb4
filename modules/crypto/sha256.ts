// Streaming SHA-256 in native code (native/sha256.c): libsodium on hosts, the SHA accelerator on the ESP32.
export type Bytes = ArrayBuffer | Uint8Array | DataView;

export default class SHA256 extends Native("xs_sha256_destructor") {
	static readonly DIGEST_BYTES = 32;

	constructor() {
		super();
		native("xs_sha256_init").call(this);
	}
	/** Adds data to the hash. */
	update(data: Bytes): this {
		native("xs_sha256_update").call(this, data);
		return this;
	}
	/** Finishes the hash and returns its 32 bytes. */
	digest(): ArrayBuffer {
		return native("xs_sha256_digest").call(this);
	}
	/** Starts a new hash on the same object. */
	reset(): this {
		native("xs_sha256_init").call(this);
		return this;
	}
	/** The SHA-256 of one buffer. */
	static hash(data: Bytes): ArrayBuffer {
		return new SHA256().update(data).digest();
	}
}
