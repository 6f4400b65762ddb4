/*
 * The board's event log: JSON Lines, one object per line, {"t": ms since process start, "boot": n, "ops": flash
 * operations so far, "type": ..., ...fields}. The host writes boot, reboot, rollback, watchdog, power-cut,
 * bricked and halt; firmware writes its own through `sim/events` (xs_sim_event).
 */
#include "../host.h"
#include "board.h"
#include <stdarg.h>

static double gxStart = -1;

static double simElapsed(void)
{
	if (gxStart < 0)
		gxStart = simNow();
	return simNow() - gxStart;
}

void simJsonString(char* out, size_t size, const char* text)
{
	size_t at = 0;
	if (size < 3)
		return;
	out[at++] = '"';
	for (; *text && (at + 8 < size); text++) {
		unsigned char c = (unsigned char)*text;
		if ((c == '"') || (c == '\\')) {
			out[at++] = '\\';
			out[at++] = (char)c;
		}
		else if (c == '\n') {
			out[at++] = '\\';
			out[at++] = 'n';
		}
		else if (c < 0x20)
			at += (size_t)snprintf(out + at, size - at, "\\u%04x", c);
		else
			out[at++] = (char)c;
	}
	out[at++] = '"';
	out[at] = 0;
}

static void simEventLine(simBoard* board, const char* type, const char* fields)
{
	char name[96];
	if (!board || !board->log)
		return;
	simJsonString(name, sizeof(name), type);
	fprintf(board->log, "{\"t\":%.1f,\"boot\":%d,\"ops\":%ld,\"type\":%s%s%s}\n", simElapsed(), board->boot, board->ops,
		name, (fields && *fields) ? "," : "", fields ? fields : "");
	fflush(board->log);
}

void simEvent(simBoard* board, const char* type, const char* format, ...)
{
	char fields[2048];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(fields, sizeof(fields), format, arguments);
	va_end(arguments);
	simEventLine(board, type, fields);
}

/* event(type, json): json is JSON.stringify of the fields object, done in JS */
void xs_sim_event(txMachine* the)
{
	char type[64];
	txString json;
	size_t length;
	if (mxArgc < 2)
		mxTypeError("event: expects a type and the fields' JSON");
	fxToStringBuffer(the, mxArgv(0), type, sizeof(type));
	json = fxToString(the, mxArgv(1));
	length = strlen(json);
	if ((length < 2) || (json[0] != '{') || (json[length - 1] != '}'))
		mxTypeError("event: fields must be a JSON object");
	if (!gxBoard || !gxBoard->log)
		return;
	{
		char* inner = malloc(length);
		if (!inner)
			mxRangeError("event: out of memory");
		memcpy(inner, json + 1, length - 2);
		inner[length - 2] = 0;
		simEventLine(gxBoard, type, inner);
		free(inner);
	}
}

/* true when the host runs as a board (so firmware knows whether flash and reboots are real) */
void xs_sim_board(txMachine* the)
{
	mxResult->kind = XS_BOOLEAN_KIND;
	mxResult->value.boolean = gxBoard ? 1 : 0;
}
