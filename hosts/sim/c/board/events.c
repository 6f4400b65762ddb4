/*
 * The board's event log: JSON Lines, one object per line, {"t": ms since process start, "boot": n, "ops": flash
 * operations so far, "type": ..., ...fields}. The host writes boot, reboot, rollback, watchdog, power-cut,
 * bricked and halt; firmware writes its own through `sim/events` (xs_sim_event).
 * Shared by our sim host and the lin (mcsim) board; the times count from the first event of the process.
 */
#include "xsmc.h"
#include "board.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double gxStart = -1;

static double simElapsed(void)
{
	struct timespec now;
	double ms;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
	if (gxStart < 0)
		gxStart = ms;
	return ms - gxStart;
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
void xs_sim_event(xsMachine* the)
{
	char type[64];
	const char* json;
	size_t length;
	simBoard* board = simBoardCurrent();
	if (xsmcArgc < 2)
		xsTypeError("event: expects a type and the fields' JSON");
	xsmcToStringBuffer(xsArg(0), type, sizeof(type));
	json = xsmcToString(xsArg(1));
	length = strlen(json);
	if ((length < 2) || (json[0] != '{') || (json[length - 1] != '}'))
		xsTypeError("event: fields must be a JSON object");
	if (!board || !board->log)
		return;
	{
		char* inner = malloc(length);
		if (!inner)
			xsRangeError("event: out of memory");
		json = xsmcToString(xsArg(1)); /* the allocation may have moved the string */
		memcpy(inner, json + 1, length - 2);
		inner[length - 2] = 0;
		simEventLine(board, type, inner);
		free(inner);
	}
}

/* true when the firmware runs on a board (so it knows whether flash and reboots are real) */
void xs_sim_board(xsMachine* the)
{
	xsmcSetBoolean(xsResult, simBoardCurrent() ? 1 : 0);
}
