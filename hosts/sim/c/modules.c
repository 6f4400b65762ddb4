/*
 * Module resolution for the sim host. Modules come from one of two sources:
 * - files: a module's id is its absolute file path; bare specifiers ("timer", "fota/client") resolve through
 *   the JSON module map, so the sim's implementations stand in for Moddable's;
 * - a sim image (board mode): a module's id is its name in the image; bare specifiers resolve through the
 *   image's aliases, so what runs after a reboot is what was written to flash.
 * Relative specifiers resolve against the importing module in both. Source is parsed at import time: the npm
 * engine sources ship no xsc.
 * Parsed code then runs as a device runs its modules from flash: see simKeepModuleCode.
 */
#include "host.h"
#include "xsScript.h"
#include "board/board.h"
#include <limits.h>

static txSlot gxModuleMap; /* the parsed module map object, or undefined */

void simLoadModuleMap(txMachine* the, const char* path)
{
	FILE* file = fopen(path, "rb");
	long size;
	char* text;
	if (!file) {
		fprintf(stderr, "xsfota-sim: cannot open module map %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fseek(file, 0, SEEK_END);
	size = ftell(file);
	fseek(file, 0, SEEK_SET);
	text = malloc(size + 1);
	if (!text || fread(text, 1, size, file) != (size_t)size) {
		fprintf(stderr, "xsfota-sim: cannot read module map %s\n", path);
		exit(2);
	}
	text[size] = 0;
	fclose(file);
	mxPushStringC(text);
	free(text);
	mxTry(the) {
		txSlot* json;
		mxPush(mxGlobal);
		fxGetID(the, fxID(the, "JSON"));
		json = the->stack;
		mxPushSlot(json);
		mxDub();
		fxGetID(the, fxID(the, "parse"));
		mxCall();
		mxPushSlot(json + 1);
		mxRunCount(1);
		gxModuleMap = *the->stack;
		mxPop();
		mxPop();
	}
	mxCatch(the) {
		fprintf(stderr, "xsfota-sim: module map %s is not valid JSON\n", path);
		exit(2);
	}
	mxPop();
	fxRemember(the, &gxModuleMap);
}

/* Joins a relative specifier onto the directory of the importing module's path. */
static int simJoinRelative(char* out, size_t outSize, const char* from, const char* name)
{
	char buffer[PATH_MAX];
	char* slash;
	if (strlen(from) >= sizeof(buffer))
		return 0;
	strcpy(buffer, from);
	slash = strrchr(buffer, '/');
	if (!slash)
		return 0;
	*slash = 0;
	while (1) {
		if (!strncmp(name, "./", 2))
			name += 2;
		else if (!strncmp(name, "../", 3)) {
			name += 3;
			slash = strrchr(buffer, '/');
			if (!slash)
				return 0;
			*slash = 0;
		}
		else
			break;
	}
	if (snprintf(out, outSize, "%s/%s", buffer, name) >= (int)outSize)
		return 0;
	return 1;
}

/* Image names have no ".js"; relative specifiers in compiled TypeScript often do. */
static void simStripJs(char* name)
{
	size_t length = strlen(name);
	if ((length > 3) && !strcmp(name + length - 3, ".js"))
		name[length - 3] = 0;
}

static txID simFindImageModule(txMachine* the, simImage* image, txID moduleID, const char* name)
{
	char path[PATH_MAX];
	const char* found;
	if (!strncmp(name, "./", 2) || !strncmp(name, "../", 3)) {
		if (moduleID == XS_NO_ID)
			mxReferenceError("module \"%s\": a relative specifier needs an importing module", name);
		/* simJoinRelative works on "dir/file" ids; a top-level image name has no directory */
		snprintf(path, sizeof(path), "/%s", fxGetKeyName(the, moduleID));
		if (!simJoinRelative(path, sizeof(path), path, name))
			mxRangeError("module \"%s\": path too long", name);
		memmove(path, path + 1, strlen(path));
		simStripJs(path);
		found = simImageResolve(image, path);
	}
	else {
		snprintf(path, sizeof(path), "%s", name);
		found = simImageResolve(image, path);
		if (!found) {
			simStripJs(path);
			found = simImageResolve(image, path);
		}
	}
	if (!found)
		mxReferenceError("module \"%s\" not found in the booted sim image", name);
	return fxNewNameC(the, (txString)found);
}

txID fxFindModule(txMachine* the, txSlot* realm, txID moduleID, txSlot* slot)
{
	char name[PATH_MAX];
	char path[PATH_MAX];
	char real[PATH_MAX];
	fxToStringBuffer(the, slot, name, sizeof(name));
	if (mxHost(the)->image)
		return simFindImageModule(the, mxHost(the)->image, moduleID, name);
	if (!strncmp(name, "./", 2) || !strncmp(name, "../", 3)) {
		if (moduleID == XS_NO_ID)
			mxReferenceError("module \"%s\": a relative specifier needs an importing module", name);
		if (!simJoinRelative(path, sizeof(path), fxGetKeyName(the, moduleID), name))
			mxRangeError("module \"%s\": path too long", name);
	}
	else if (name[0] == '/') {
		strcpy(path, name);
	}
	else {
		txSlot* entry = C_NULL;
		if (gxModuleMap.kind == XS_REFERENCE_KIND) {
			mxPushSlot(&gxModuleMap);
			if (fxHasID(the, fxID(the, (txString)name))) {
				mxPushSlot(&gxModuleMap);
				fxGetID(the, fxID(the, (txString)name));
				entry = the->stack;
			}
		}
		if (!entry || ((entry->kind != XS_STRING_KIND) && (entry->kind != XS_STRING_X_KIND)))
			mxReferenceError("module \"%s\" not found: it is not in the sim host's module map", name);
		if (strlen(entry->value.string) >= sizeof(path))
			mxRangeError("module \"%s\": path too long", name);
		strcpy(path, entry->value.string);
		mxPop();
	}
	if (!realpath(path, real))
		mxReferenceError("module \"%s\" not found: %s: %s", name, path, strerror(errno));
	return fxNewNameC(the, real);
}

static void simReportParserError(void* console, txString path, txInteger line, txString format, c_va_list arguments)
{
	fprintf(stderr, "%s:%d: syntax error: ", path ? path : "?", (int)line);
	vfprintf(stderr, format, arguments);
	fprintf(stderr, "\n");
}

static void simIgnoreParserWarning(void* console, txString path, txInteger line, txString format, c_va_list arguments)
{
}

typedef struct {
	const uint8_t* next;
	const uint8_t* end;
} simSourceStream;

static int simSourceGetc(void* stream)
{
	simSourceStream* source = stream;
	return (source->next < source->end) ? *source->next++ : EOF;
}

/* Parses a module from a stream (a FILE with fgetc, or memory), keeping its path so that stacks and syntax errors name file:line. */
static txScript* simParseModule(txMachine* the, txString path, void* stream, txGetter getter)
{
	txParser _parser;
	txParser* parser = &_parser;
	txParserJump jump;
	txScript* volatile script = C_NULL;
#ifdef mxDebug
	txUnsigned flags = mxDebugFlag;
#else
	txUnsigned flags = 0;
#endif
	fxInitializeParser(parser, the, the->parserBufferSize, the->parserTableModulo);
	parser->firstJump = &jump;
	parser->reportError = simReportParserError;
	parser->reportWarning = simIgnoreParserWarning;
	if (c_setjmp(jump.jmp_buf) == 0) {
		parser->path = fxNewParserSymbol(parser, path);
		fxParserTree(parser, stream, getter, flags, C_NULL);
		fxParserHoist(parser);
		fxParserBind(parser);
		script = fxParserCode(parser);
	}
	fxTerminateParser(parser);
	return script;
}

/* A device runs its modules from flash. Moddable's linker (xsl, run by mcconfig) binds every module's names and marks
 * every function's code and every string literal as "in the archive", so XS points at them where they lie instead of
 * copying them into its heap each time a closure is made or a literal is evaluated. Parsed code that XS runs as it
 * comes copies both, every time: on the sim board, each arrow function made and each literal evaluated allocated a
 * chunk that a device never allocates, and the module bodies' copies stayed in the heap. So the sim host does what
 * the linker does, with its own walk over the code: it binds the names, turns the code and string opcodes into their
 * archive forms, and keeps the code outside the XS heap, read-only in use, for the machine's life (simFreeModuleCode).
 * eval and new Function still copy, as they do on a device. */
typedef struct simModuleCode {
	struct simModuleCode* next;
	txScript* script;
} simModuleCode;

extern void fxRemapIDs(txMachine* the, txByte* codeBuffer, txSize codeSize, txID* theIDs);

/* The code and string opcodes in their archive forms; the walk steps over every operand as fxRemapIDs does. */
static void simArchiveOpcodes(txByte* p, txByte* end)
{
	while (p < end) {
		txU1 code = *((txU1*)p);
		txS1 size = gxCodeSizes[code];
		switch (code) {
		case XS_CODE_CODE_1: *((txU1*)p) = XS_CODE_CODE_ARCHIVE_1; break;
		case XS_CODE_CODE_2: *((txU1*)p) = XS_CODE_CODE_ARCHIVE_2; break;
		case XS_CODE_CODE_4: *((txU1*)p) = XS_CODE_CODE_ARCHIVE_4; break;
		case XS_CODE_STRING_1: *((txU1*)p) = XS_CODE_STRING_ARCHIVE_1; break;
		case XS_CODE_STRING_2: *((txU1*)p) = XS_CODE_STRING_ARCHIVE_2; break;
		case XS_CODE_STRING_4: *((txU1*)p) = XS_CODE_STRING_ARCHIVE_4; break;
		default: break;
		}
		if (size > 0)
			p += size; /* a function's code follows its opcode: the walk goes on into it */
		else if (size == 0)
			p += 1 + sizeof(txID);
		else if (size == -1) {
			txU1 length;
			p++;
			length = *((txU1*)p);
			p += 1 + length;
		}
		else if (size == -2) {
			txU2 length;
			p++;
			mxDecode2(p, length);
			p += length;
		}
		else {
			txS4 length;
			p++;
			mxDecode4(p, length);
			p += length;
		}
	}
}

/* Binds the script's names, archives its opcodes and keeps it for the machine's life: fxRunScript then neither
 * copies its code nor deletes it (it deletes only scripts that still carry their symbols). */
static void simKeepModuleCode(txMachine* the, txScript* script)
{
	simModuleCode* kept = c_malloc(sizeof(simModuleCode));
	txByte* p = (txByte*)script->symbolsBuffer;
	txID count, i;
	txID* ids;
	if (!kept) {
		fxDeleteScript(script);
		fxAbort(the, XS_NOT_ENOUGH_MEMORY_EXIT);
	}
	kept->script = script;
	kept->next = mxHost(the)->moduleCode;
	mxHost(the)->moduleCode = kept;
	if (!p)
		return;
	mxDecodeID(p, count);
	ids = c_malloc(count * sizeof(txID));
	if (!ids)
		fxAbort(the, XS_NOT_ENOUGH_MEMORY_EXIT);
	ids[0] = XS_NO_ID;
	for (i = 1; i < count; i++) {
		ids[i] = fxNewNameC(the, (txString)p);
		p += mxStringLength((char*)p) + 1;
	}
	fxRemapIDs(the, script->codeBuffer, script->codeSize, ids);
	c_free(ids);
	c_free(script->symbolsBuffer);
	script->symbolsBuffer = C_NULL;
	script->symbolsSize = 0;
	simArchiveOpcodes(script->codeBuffer, script->codeBuffer + script->codeSize);
}

void simFreeModuleCode(simHost* host)
{
	while (host->moduleCode) {
		simModuleCode* kept = host->moduleCode;
		host->moduleCode = kept->next;
		fxDeleteScript(kept->script);
		c_free(kept);
	}
}

void fxLoadModule(txMachine* the, txSlot* module, txID moduleID)
{
	txString path = fxGetKeyName(the, moduleID);
	FILE* file;
	txScript* script;
	if (mxHost(the)->image) {
		simSourceStream stream;
		uint32_t length;
		char label[PATH_MAX];
		stream.next = simImageSource(mxHost(the)->image, path, &length);
		if (!stream.next)
			mxReferenceError("module %s: not in the booted sim image", path);
		stream.end = stream.next + length;
		snprintf(label, sizeof(label), "%s.js", path);
		script = simParseModule(the, label, &stream, simSourceGetc);
		if (!script)
			mxSyntaxError("module %s: cannot parse", path);
		simKeepModuleCode(the, script);
		fxResolveModule(the, module, moduleID, script, C_NULL, C_NULL);
		return;
	}
	file = fopen(path, "r");
	if (!file)
		mxReferenceError("module %s: cannot open: %s", path, strerror(errno));
	script = simParseModule(the, path, file, (txGetter)fgetc);
	fclose(file);
	if (!script)
		mxSyntaxError("module %s: cannot parse", path);
	simKeepModuleCode(the, script);
	fxResolveModule(the, module, moduleID, script, C_NULL, C_NULL);
}
