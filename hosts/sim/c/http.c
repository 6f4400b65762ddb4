/*
 * HTTPS GET for the sim host's transport, on libcurl's multi interface inside the event loop.
 * The CA comes from the caller (the device config), never from the system store. So does the device's own
 * identity for mutual TLS (clientKey, clientCertificates: PEM text), handed to libcurl as in-memory blobs
 * (CURLOPT_SSLKEY_BLOB, CURLOPT_SSLCERT_BLOB), never through a file. TLS is 1.2 only, as Moddable's
 * SecureSocket speaks it on the device (modules/fota-moddable/transport.ts, protocolVersion 0x303): the client
 * certificate is then sent and judged inside the handshake, and a server that refuses it ends the handshake.
 * Events reach JS from the loop, never from inside libcurl's callbacks: response (status, headers), data
 * (ArrayBuffer, length), done (error message: a TLS failure starts "TLS handshake failed: ", then libcurl's reason).
 * One TLS session per check, as on a device that pays seconds and tens of KB for a handshake: every request shares
 * the multi handle's connection cache, so the manifest, the image ranges and the reports of a check go over one
 * connection while the server keeps it alive; and a share handle keeps the TLS sessions (CURL_LOCK_DATA_SSL_SESSION),
 * so a new connection, after the server closed the last one, resumes the session instead of a full handshake.
 * libcurl reuses a connection or a session only for the same host, port and TLS options (the pinned CA, the client
 * certificate and key, TLS 1.2), so nothing here weakens them. A board reset forgets both, as a reboot does.
 * No garbage per chunk: a request's body reaches JS through one ArrayBuffer, refilled for every piece: the caller's
 * own (options.buffer, lent to each of its requests: the sim transport keeps one, so a request allocates no buffer),
 * or else one made at the first data event (as large as that piece, at most `chunk` bytes; `chunk` bytes once if a
 * later piece is larger). A data event hands (buffer, length), valid only during the call (the ResponseSink
 * contract, modules/fota/ports.ts): a sink copies what it keeps.
 *   new HttpRequest({url, method: "GET"|"POST", headers: [[name, value]...], body: string, ca: PEM string,
 *                    clientKey: PEM string, clientCertificates: PEM string, timeout: ms, chunk: bytes,
 *                    buffer: ArrayBuffer}, callback)
 */
#include "host.h"
#include <curl/curl.h>

#define mxHeadLines 64             /* a response's header lines and bytes, at most: as modules/fota-moddable/transport.ts */
#define mxHeadBytes 8192
#define mxBodyLimit (64 * 1024)   /* buffered bytes before the transfer is paused until JS has taken them */
#define mxClientKeyLimit 8192     /* the identity's PEM text, at most: as modules/fota/config.ts */
#define mxClientCertificatesLimit 16384

typedef struct simHttp simHttp;
struct simHttp {
	simHttp* next;
	CURL* easy;
	struct curl_slist* headers;
	txSlot self;
	txSlot callback;
	int running;              /* in the multi handle */
	int responded;            /* response event delivered */
	int paused;
	int finished;             /* libcurl is done; the done event is pending */
	CURLcode result;
	size_t chunk;             /* largest piece handed to JS, and the size of its buffer */
	txSlot buffer;            /* the ArrayBuffer refilled for every data event (undefined until the first) */
	size_t bufferSize;        /* its bytes; 0 before the first */
	char* head;               /* header lines of the current response */
	size_t headLength, headCapacity;
	int headLines;
	char refused[96];         /* why we ended the transfer ourselves (headers past their bounds), or "" */
	unsigned char* body;
	size_t bodyLength, bodyCapacity;
	char* request;            /* the POST body */
	char error[CURL_ERROR_SIZE];
	char failure[CURL_ERROR_SIZE + 32];  /* the done event's message when libcurl's error is a TLS one */
};

static CURLM* gxMulti = NULL;
static CURLSH* gxShare = NULL;   /* the TLS sessions, for resumption on a new connection */
static simHttp* gxTransfers = NULL;
static int gxStarted = 0;        /* curl_global_init succeeded */

/* Once per process, before the firmware runs: libcurl's global setup initializes OpenSSL (its ciphers, digests and
 * error strings: a millisecond or two), a cost of the process's start, as for the curl tool (whose time_total, the
 * bench's yardstick, begins after it), not of the first request of an update check. A failure here is reported by
 * the first request. */
void simHttpStartup(void)
{
	gxStarted = (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

static int simAppend(char** buffer, size_t* length, size_t* capacity, const void* data, size_t size)
{
	if (*length + size > *capacity) {
		size_t grown = (*capacity ? *capacity * 2 : 1024);
		char* bigger;
		while (grown < *length + size)
			grown *= 2;
		bigger = realloc(*buffer, grown);
		if (!bigger)
			return 0;
		*buffer = bigger;
		*capacity = grown;
	}
	memcpy(*buffer + *length, data, size);
	*length += size;
	return 1;
}

static size_t simHeaderCallback(char* data, size_t size, size_t count, void* it)
{
	simHttp* http = it;
	size_t length = size * count;
	if ((length >= 5) && !strncmp(data, "HTTP/", 5))
		http->headLength = http->headLines = 0; /* a new response (after a 100 Continue, say): forget the previous headers */
	if ((++http->headLines > mxHeadLines) || (http->headLength + length > mxHeadBytes)) {
		snprintf(http->refused, sizeof(http->refused), "response headers exceed %d lines or %d bytes", mxHeadLines, mxHeadBytes);
		return 0; /* libcurl ends the transfer */
	}
	if (!simAppend(&http->head, &http->headLength, &http->headCapacity, data, length))
		return 0;
	return length;
}

static size_t simWriteCallback(char* data, size_t size, size_t count, void* it)
{
	simHttp* http = it;
	size_t length = size * count;
	if (http->bodyLength >= mxBodyLimit) {
		http->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (!simAppend((char**)&http->body, &http->bodyLength, &http->bodyCapacity, data, length))
		return 0;
	return length;
}

static void simHttpStop(txMachine* the, simHttp* http)
{
	simHttp** address = &gxTransfers;
	if (http->running) {
		curl_multi_remove_handle(gxMulti, http->easy); /* its connection goes back to the multi's cache */
		http->running = 0;
	}
	if (http->easy) { /* done with libcurl: let go of the share now, not when the JS object is collected */
		curl_easy_cleanup(http->easy);
		http->easy = NULL;
	}
	while (*address) {
		if (*address == http) {
			*address = http->next;
			fxForget(the, &http->self);
			break;
		}
		address = &(*address)->next;
	}
}

static void simHttpFree(simHttp* http)
{
	if (http->easy)
		curl_easy_cleanup(http->easy);
	curl_slist_free_all(http->headers);
	free(http->request);
	free(http->head);
	free(http->body);
	free(http);
}

static void simHttpDestructor(void* data)
{
	if (data)
		simHttpFree(data);
}

static void simHttpMark(txMachine* the, void* data, txMarkRoot markRoot)
{
	simHttp* http = data;
	if (http) {
		(*markRoot)(the, &http->callback);
		(*markRoot)(the, &http->buffer);
	}
}

static const txHostHooks gxHttpHooks = { simHttpDestructor, simHttpMark };

static void simGetStringProperty(txMachine* the, txSlot* object, const char* name, char* buffer, size_t size, int required)
{
	mxPushSlot(object);
	fxGetID(the, fxID(the, (txString)name));
	if (mxIsUndefined(the->stack)) {
		if (required)
			mxTypeError("HttpRequest: %s is required", name);
		buffer[0] = 0;
	}
	else {
		if (!mxIsStringPrimitive(the->stack))
			mxTypeError("HttpRequest: %s must be a string", name);
		if (strlen(the->stack->value.string) >= size)
			mxRangeError("HttpRequest: %s is too long", name);
		strcpy(buffer, the->stack->value.string);
	}
	mxPop();
}

static double simGetNumberProperty(txMachine* the, txSlot* object, const char* name, double fallback)
{
	double value = fallback;
	mxPushSlot(object);
	fxGetID(the, fxID(the, (txString)name));
	if (!mxIsUndefined(the->stack))
		value = fxToNumber(the, the->stack);
	mxPop();
	return value;
}

/* One line onto the request's header list; the list stays whole if libcurl cannot copy the line. */
static void simAppendHeader(txMachine* the, simHttp* http, const char* line)
{
	struct curl_slist* longer = curl_slist_append(http->headers, line);
	if (!longer)
		mxRangeError("HttpRequest: out of memory for the headers");
	http->headers = longer;
}

/* options.headers: [[name, value], ...]. Slots are copied before each push: a push moves the stack.
 * libcurl's own Accept header (any type, "*" slash "*") goes unless the caller names an Accept: it says nothing
 * (every answer we take is judged by its status and bytes) and costs 13 bytes in every request, an idle poll's
 * included (a fleet polling hourly pays for every byte). "Accept:" with no value is libcurl's way to leave out a header it would add. */
static void simAddHeaders(txMachine* the, simHttp* http, txSlot* options)
{
	txSlot headers, entry;
	txInteger count, i;
	int accept = 0;
	mxPushSlot(options);
	fxGetID(the, fxID(the, "headers"));
	headers = *the->stack;
	mxPop();
	if (mxIsUndefined(&headers)) {
		simAppendHeader(the, http, "Accept:");
		return;
	}
	mxPushSlot(&headers);
	fxGetID(the, mxID(_length));
	count = fxToInteger(the, the->stack);
	mxPop();
	for (i = 0; i < count; i++) {
		char line[1024];
		txString name, value;
		mxPushSlot(&headers);
		fxGetIndex(the, i);
		entry = *the->stack;
		mxPushSlot(&entry);
		fxGetIndex(the, 0);
		mxPushSlot(&entry);
		fxGetIndex(the, 1);
		name = fxToString(the, the->stack + 1);
		value = fxToString(the, the->stack);
		if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
			mxTypeError("HttpRequest: header %s has a forbidden character", name);
		if (snprintf(line, sizeof(line), "%s: %s", name, value) >= (int)sizeof(line))
			mxRangeError("HttpRequest: header %s is too long", name);
		if (!strcasecmp(name, "accept"))
			accept = 1;
		simAppendHeader(the, http, line);
		mxPop();
		mxPop();
		mxPop();
	}
	if (!accept)
		simAppendHeader(the, http, "Accept:");
}

void xs_http_request(txMachine* the)
{
	char url[2048];
	char method[8];
	static char ca[64 * 1024];
	static char clientKey[mxClientKeyLimit + 1];
	static char clientCertificates[mxClientCertificatesLimit + 1];
	struct curl_blob blob, keyBlob, certificatesBlob;
	simHttp* http;
	double timeout, chunk;
	if ((mxArgc < 2) || !mxIsReference(mxArgv(0)) || !fxIsCallable(the, mxArgv(1)))
		mxTypeError("HttpRequest: expects (options, callback)");
	if (!gxMulti) {
		if (!gxStarted || !(gxMulti = curl_multi_init()) || !(gxShare = curl_share_init())
			|| (curl_share_setopt(gxShare, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK))
			mxUnknownError("HttpRequest: libcurl failed to initialize");
	}
	simGetStringProperty(the, mxArgv(0), "url", url, sizeof(url), 1);
	simGetStringProperty(the, mxArgv(0), "ca", ca, sizeof(ca), 1);
	if (strncmp(url, "https://", 8))
		mxTypeError("HttpRequest: only https:// URLs are allowed, got %s", url);
	if (!strstr(ca, "-----BEGIN CERTIFICATE-----"))
		mxTypeError("HttpRequest: ca must hold a PEM certificate");
	simGetStringProperty(the, mxArgv(0), "method", method, sizeof(method), 0);
	if (method[0] && strcmp(method, "GET") && strcmp(method, "POST"))
		mxTypeError("HttpRequest: method must be GET or POST");
	timeout = simGetNumberProperty(the, mxArgv(0), "timeout", 10000);
	chunk = simGetNumberProperty(the, mxArgv(0), "chunk", 4096);
	if (!(timeout >= 1) || !(chunk >= 256) || (chunk > mxBodyLimit))
		mxRangeError("HttpRequest: timeout must be >= 1 ms and chunk 256..%d bytes", mxBodyLimit);

	http = calloc(1, sizeof(simHttp));
	if (!http || !(http->easy = curl_easy_init())) {
		free(http);
		mxRangeError("HttpRequest: out of memory");
	}
	http->chunk = (size_t)chunk;
	http->callback = *mxArgv(1);
	http->buffer.kind = XS_UNDEFINED_KIND;
	fxSetHostData(the, mxThis, http);
	fxSetHostHooks(the, mxThis, &gxHttpHooks);
	http->self = *mxThis;
	/* options.buffer: an ArrayBuffer the caller owns and lends to each of its requests (one per transport, not one per
	 * request): every data event refills it, and no piece is larger than it */
	mxPushSlot(mxArgv(0));
	fxGetID(the, fxID(the, "buffer"));
	if (!mxIsUndefined(the->stack)) {
		txInteger size = fxGetArrayBufferLength(the, the->stack); /* a TypeError for anything but an ArrayBuffer */
		if ((size < 256) || (size > mxBodyLimit))
			mxRangeError("HttpRequest: buffer must be 256..%d bytes", mxBodyLimit);
		http->buffer = *the->stack;
		http->bufferSize = http->chunk = (size_t)size;
	}
	mxPop();
	simAddHeaders(the, http, mxArgv(0));
	if (!strcmp(method, "POST")) {
		mxPushSlot(mxArgv(0));
		fxGetID(the, fxID(the, "body"));
		http->request = strdup(mxIsUndefined(the->stack) ? "" : fxToString(the, the->stack));
		mxPop();
		if (!http->request)
			mxRangeError("HttpRequest: out of memory");
		curl_easy_setopt(http->easy, CURLOPT_POSTFIELDS, http->request);
	}

	/* read last, just before libcurl copies them: nothing between here and the wipe below can throw and leave the
	 * key in the static buffer (the certificates are read first for the same reason) */
	simGetStringProperty(the, mxArgv(0), "clientCertificates", clientCertificates, sizeof(clientCertificates), 0);
	simGetStringProperty(the, mxArgv(0), "clientKey", clientKey, sizeof(clientKey), 0);
	if (!clientKey[0] != !clientCertificates[0]) {
		memset(clientKey, 0, sizeof(clientKey));
		mxTypeError("HttpRequest: clientKey and clientCertificates go together");
	}
	if (clientKey[0] && !strstr(clientKey, "-----BEGIN PRIVATE KEY-----")) {
		memset(clientKey, 0, sizeof(clientKey));
		mxTypeError("HttpRequest: clientKey must hold a PEM PRIVATE KEY");
	}
	if (clientCertificates[0] && !strstr(clientCertificates, "-----BEGIN CERTIFICATE-----")) {
		memset(clientKey, 0, sizeof(clientKey));
		mxTypeError("HttpRequest: clientCertificates must hold a PEM CERTIFICATE");
	}
	blob.data = ca;
	blob.len = strlen(ca);
	blob.flags = CURL_BLOB_COPY;
	curl_easy_setopt(http->easy, CURLOPT_URL, url);
	curl_easy_setopt(http->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(http->easy, CURLOPT_CAINFO_BLOB, &blob);
	curl_easy_setopt(http->easy, CURLOPT_CAPATH, NULL);           /* only the pinned CA, not the system store */
	curl_easy_setopt(http->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(http->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(http->easy, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
	if (clientKey[0]) {
		/* libcurl copies both blobs (CURL_BLOB_COPY); the static copy of the key is wiped at once */
		certificatesBlob.data = clientCertificates;
		certificatesBlob.len = strlen(clientCertificates);
		certificatesBlob.flags = CURL_BLOB_COPY;
		keyBlob.data = clientKey;
		keyBlob.len = strlen(clientKey);
		keyBlob.flags = CURL_BLOB_COPY;
		int taken = (curl_easy_setopt(http->easy, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK)
			&& (curl_easy_setopt(http->easy, CURLOPT_SSLCERT_BLOB, &certificatesBlob) == CURLE_OK)
			&& (curl_easy_setopt(http->easy, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK)
			&& (curl_easy_setopt(http->easy, CURLOPT_SSLKEY_BLOB, &keyBlob) == CURLE_OK);
		memset(clientKey, 0, sizeof(clientKey));
		if (!taken)   /* never connect without the identity the caller asked for */
			mxUnknownError("HttpRequest: this libcurl cannot take a client certificate and key from memory");
	}
	curl_easy_setopt(http->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(http->easy, CURLOPT_HTTPHEADER, http->headers);
	curl_easy_setopt(http->easy, CURLOPT_ACCEPT_ENCODING, NULL);  /* byte ranges must mean the image's bytes */
	curl_easy_setopt(http->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
	curl_easy_setopt(http->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);    /* a stalled link ends the transfer */
	curl_easy_setopt(http->easy, CURLOPT_LOW_SPEED_TIME, (long)((timeout + 999) / 1000));
	curl_easy_setopt(http->easy, CURLOPT_HEADERFUNCTION, simHeaderCallback);
	curl_easy_setopt(http->easy, CURLOPT_HEADERDATA, http);
	curl_easy_setopt(http->easy, CURLOPT_WRITEFUNCTION, simWriteCallback);
	curl_easy_setopt(http->easy, CURLOPT_WRITEDATA, http);
	curl_easy_setopt(http->easy, CURLOPT_ERRORBUFFER, http->error);
	curl_easy_setopt(http->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(http->easy, CURLOPT_PRIVATE, http);
	curl_easy_setopt(http->easy, CURLOPT_SHARE, gxShare);         /* resume a TLS session of this host and identity */
	if (curl_multi_add_handle(gxMulti, http->easy) != CURLM_OK)
		mxUnknownError("HttpRequest: cannot start the transfer");
	http->running = 1;
	http->next = gxTransfers;
	gxTransfers = http;
	fxRemember(the, &http->self);
}

/* abort(): no more events after this */
void xs_http_abort(txMachine* the)
{
	simHttp* http;
	if (!simIsHostObject(mxThis) || (fxGetHostHooks(the, mxThis) != &gxHttpHooks))
		mxTypeError("HttpRequest: not a request");
	http = fxGetHostData(the, mxThis);
	if (http)
		simHttpStop(the, http);
}

void xs_http_destructor(void* data)
{
	/* the host hooks free the transfer; this name only gives Native() its destructor */
}

int simHttpActive(void)
{
	return gxTransfers != NULL;
}

void simHttpWait(double milliseconds)
{
	int ready = 0;
	int still;
	if (milliseconds < 0 || milliseconds > 1000)
		milliseconds = 1000;
	curl_multi_poll(gxMulti, NULL, 0, (int)ceil(milliseconds), &ready);
	curl_multi_perform(gxMulti, &still);
}

static void simHttpCall(txMachine* the, simHttp* http, const char* event, txSlot* a, txSlot* b)
{
	mxTry(the) {
		mxPushUndefined();
		mxPushSlot(&http->callback);
		mxCall();
		mxPushStringX((txString)event); /* a static C string, not copied into the heap: no garbage per event */
		if (a) mxPushSlot(a); else mxPushUndefined();
		if (b) mxPushSlot(b); else mxPushUndefined();
		mxRunCount(3);
		mxPop();
	}
	mxCatch(the) {
		fxAbort(the, XS_UNHANDLED_EXCEPTION_EXIT);
	}
}

static void simDeliverResponse(txMachine* the, simHttp* http)
{
	long status = 0;
	char* line;
	char* end;
	txSlot statusSlot, headersSlot;
	curl_easy_getinfo(http->easy, CURLINFO_RESPONSE_CODE, &status);
	http->responded = 1;
	mxPush(mxObjectPrototype);
	fxNewObjectInstance(the);
	headersSlot = *the->stack;
	simAppend(&http->head, &http->headLength, &http->headCapacity, "", 1);
	for (line = http->head; line && *line; line = end) {
		char* colon;
		end = strchr(line, '\n');
		if (end)
			*end++ = 0;
		if (end && end - line >= 2 && end[-2] == '\r')
			end[-2] = 0;
		colon = strchr(line, ':');
		if (colon && strncmp(line, "HTTP/", 5)) {
			char* value = colon + 1;
			char* p;
			*colon = 0;
			for (p = line; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			while (*value == ' ' || *value == '\t')
				value++;
			mxPushStringC(value);
			mxPushSlot(&headersSlot);
			fxSetID(the, fxID(the, line));
			mxPop();
		}
	}
	mxPushInteger((txInteger)status);
	statusSlot = *the->stack;
	simHttpCall(the, http, "response", &statusSlot, &headersSlot);
	mxPop();
	mxPop();
}

/* The body in pieces of at most http->chunk bytes, each copied into the request's one ArrayBuffer: (buffer, length) */
static void simDeliverData(txMachine* the, simHttp* http)
{
	size_t offset = 0;
	while ((offset < http->bodyLength) && http->running) {
		size_t size = http->bodyLength - offset;
		txSlot length;
		void* data;
		if (size > http->chunk)
			size = http->chunk;
		data = (size <= http->bufferSize) ? fxToArrayBuffer(the, &http->buffer) : C_NULL;
		if (!data) {
			/* the request's buffer, kept alive by the mark hook: first as large as the first piece (a manifest or a
			 * report's answer is short), then, if a later piece is larger, `chunk` bytes, once */
			http->bufferSize = http->bufferSize ? http->chunk : size;
			data = fxArrayBuffer(the, &http->buffer, C_NULL, (txInteger)http->bufferSize, -1);
		}
		c_memcpy(data, http->body + offset, size);
		offset += size;
		length.kind = XS_INTEGER_KIND;
		length.value.integer = (txInteger)size;
		simHttpCall(the, http, "data", &http->buffer, &length);
		if (!http->running)
			return; /* aborted by the callback */
	}
	http->bodyLength = 0;
}

static int simHttpPending(simHttp* http)
{
	return http->running && (http->bodyLength || http->finished);
}

/* libcurl's results that mean the TLS handshake did not complete: the server's certificate, ours, or an alert */
static int simIsTlsFailure(CURLcode result)
{
	switch (result) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		return 1;
	default:
		return 0;
	}
}

/* Hands one transfer's pending events to JS: response, data, done. The transfer stays alive meanwhile. */
static void simHttpDeliver(txMachine* the, simHttp* http)
{
	txSlot self = http->self;
	mxPushSlot(&self);
	if (!http->responded && !http->refused[0] && (http->bodyLength || (http->finished && ((http->result == CURLE_OK) || http->headLength))))
		simDeliverResponse(the, http);
	if (http->running && http->bodyLength) {
		simDeliverData(the, http);
		if (http->running && http->paused) {
			http->paused = 0;
			curl_easy_pause(http->easy, CURLPAUSE_CONT);
		}
	}
	if (http->running && http->finished) {
		txSlot message, code;
		if (http->result == CURLE_OK)
			mxPushUndefined();
		else if (http->refused[0])
			mxPushStringC(http->refused);
		else {
			const char* reason = http->error[0] ? http->error : curl_easy_strerror(http->result);
			if (simIsTlsFailure(http->result)) {
				snprintf(http->failure, sizeof(http->failure), "TLS handshake failed: %s", reason);
				reason = http->failure;
			}
			mxPushStringC((txString)reason);
		}
		message = *the->stack;
		mxPushInteger((txInteger)http->result);
		code = *the->stack;
		simHttpStop(the, http);
		simHttpCall(the, http, "done", &message, &code);
		mxPop();
		mxPop();
	}
	mxPop();
}

/* Takes finished transfers from libcurl, then delivers one transfer's events. Returns 1 when it delivered any. */
int simHttpDispatch(txMachine* the)
{
	CURLMsg* message;
	int left;
	simHttp* http;
	if (!gxMulti)
		return 0;
	while ((message = curl_multi_info_read(gxMulti, &left))) {
		if (message->msg == CURLMSG_DONE) {
			curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char**)&http);
			http->finished = 1;
			http->result = message->data.result;
		}
	}
	for (http = gxTransfers; http; http = http->next) {
		if (simHttpPending(http)) {
			simHttpDeliver(the, http);
			return 1; /* callbacks may have changed the list: the loop calls again */
		}
	}
	return 0;
}

/* Before the machine goes away (a board reset): detach every transfer from libcurl. The machine's
 * destructors free them; no event is delivered. Then the open connections and the TLS sessions go, as in a reboot:
 * the next firmware starts with a full handshake. */
void simHttpReset(void)
{
	simHttp* http;
	for (http = gxTransfers; http; http = http->next) {
		if (http->running)
			curl_multi_remove_handle(gxMulti, http->easy);
		http->running = 0;
		if (http->easy)
			curl_easy_cleanup(http->easy);
		http->easy = NULL;
	}
	gxTransfers = NULL;
	if (gxMulti)
		curl_multi_cleanup(gxMulti);
	gxMulti = NULL;
	if (gxShare)
		curl_share_cleanup(gxShare);
	gxShare = NULL;
}
