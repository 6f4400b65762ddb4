// TLS sessions on the management server: counts the full handshakes and the resumptions its connections make (the
// bench's tls_handshakes_per_update, the tests' proof that a device keeps one session per check), and offers TLS 1.2
// session resumption by session id as well as by ticket, from a bounded cache in memory.
// Why: an ESP32 pays seconds of CPU and tens of KB of heap for a full handshake. A device that keeps its connection
// alive needs one per check; one whose connection was closed (by this server's keep-alive timeout, a proxy, a lost
// link) resumes its session instead: an abbreviated handshake, no certificates, no key exchange. Node's server
// already resumes by ticket (its ticket keys are made at start); the cache by id serves clients that send no ticket
// (mbedTLS and Moddable's TLS may not). A resumed session keeps what the full handshake established: the client
// certificate that was verified then (OpenSSL keeps it in the session with its verification result), so the device's
// identity is the same, and it is bounded in time by the server's session timeout (Node's default, 300 s).
import type { Server, TLSSocket } from "node:tls";

export interface TlsCounts {
	/** full handshakes: certificates exchanged and verified, a new key agreed */
	handshakes: number;
	/** abbreviated handshakes that resumed an earlier session (by ticket or by id) */
	resumptions: number;
}

/** The most sessions kept by id; the oldest goes first. About 2 KB each with a client certificate. */
export const MAX_CACHED_SESSIONS = 1024;

/** Counts a TLS server's full handshakes and resumptions from now on. */
export function countHandshakes(server: Server): TlsCounts {
	const counts: TlsCounts = { handshakes: 0, resumptions: 0 };
	server.on("secureConnection", (socket: TLSSocket) => {
		if (socket.isSessionReused())
			counts.resumptions++;
		else
			counts.handshakes++;
	});
	return counts;
}

/** Counts the server's handshakes and keeps a bounded cache of sessions by id for resumption. */
export function offerResumption(server: Server, maxSessions = MAX_CACHED_SESSIONS): TlsCounts {
	const counts = countHandshakes(server);
	const cache = new Map<string, Buffer>(); // in insertion order: the first key is the oldest
	server.on("newSession", (id: Buffer, data: Buffer, done: () => void) => {
		const key = id.toString("hex");
		cache.delete(key);
		cache.set(key, data);
		while (cache.size > maxSessions)
			cache.delete(cache.keys().next().value!);
		done();
	});
	server.on("resumeSession", (id: Buffer, done: (error: Error | null, data: Buffer | null) => void) => {
		done(null, cache.get(id.toString("hex")) ?? null);
	});
	return counts;
}
