/*
 * native("xs_name") and Native("xs_destructor") for the sim host.
 * Moddable's xsc compiles these calls into host functions bound at link time to the C symbol of that name.
 * The engine sources in the npm package predate that syntax, so the sim host offers them as two globals
 * with the same meaning: the name is looked up among the host's own symbols (it links with -rdynamic),
 * and an unknown name throws, which fails the import of the module that asked for it.
 */
#include "host.h"
#include <dlfcn.h>

#define mxAllFlags (XS_DONT_DELETE_FLAG | XS_DONT_ENUM_FLAG | XS_DONT_SET_FLAG)

static txSlot gxNativeCache;  /* name -> host function, so that native() in a hot path allocates once */

static void* simFindSymbol(txMachine* the, const char* kind, txSlot* nameSlot, char* name, size_t size)
{
	void* symbol;
	if ((nameSlot->kind != XS_STRING_KIND) && (nameSlot->kind != XS_STRING_X_KIND))
		mxTypeError("%s: the name must be a string literal", kind);
	fxToStringBuffer(the, nameSlot, name, (txSize)size);
	symbol = dlsym(RTLD_DEFAULT, name);
	if (!symbol)
		mxReferenceError("%s(\"%s\"): no such native in the sim host; is its C file in the host build?", kind, name);
	return symbol;
}

static txBoolean simCached(txMachine* the, const char* key)
{
	mxPushSlot(&gxNativeCache);
	if (fxHasID(the, fxID(the, (txString)key))) {
		mxPushSlot(&gxNativeCache);
		fxGetID(the, fxID(the, (txString)key));
		mxPullSlot(mxResult);
		return 1;
	}
	return 0;
}

static void simCache(txMachine* the, const char* key)
{
	mxPushSlot(mxResult);
	mxPushSlot(&gxNativeCache);
	fxSetID(the, fxID(the, (txString)key));
	mxPop();
}

static void sim_native(txMachine* the)
{
	char name[256];
	txCallback callback;
	if (mxArgc != 1)
		mxTypeError("native: expects one string literal");
	callback = (txCallback)simFindSymbol(the, "native", mxArgv(0), name, sizeof(name));
	if (simCached(the, name))
		return;
	fxNewHostFunction(the, callback, 0, fxID(the, (txString)name), XS_NO_ID);
	mxPullSlot(mxResult);
	simCache(the, name);
}

/* The constructor behind every Native(...) class. The engine has already made `this` from new.target's
 * prototype; since that prototype chain starts at a host object carrying the destructor, `this` is a host
 * object with that destructor too. */
static void sim_native_construct(txMachine* the)
{
	if (!simIsHostObject(mxThis))
		mxTypeError("Native: `this` is not a host object");
}

static void sim_Native(txMachine* the)
{
	char name[256];
	char key[264];
	txDestructor destructor;
	txSlot* constructor;
	if (mxArgc != 1)
		mxTypeError("Native: expects one string literal");
	destructor = (txDestructor)simFindSymbol(the, "Native", mxArgv(0), name, sizeof(name));
	snprintf(key, sizeof(key), "Native:%s", name);
	if (simCached(the, key))
		return;
	fxNewHostObject(the, destructor);
	fxNewHostConstructor(the, sim_native_construct, 0, fxID(the, name));
	constructor = the->stack->value.reference;
	constructor->next->flag |= XS_BASE_FLAG;  /* the engine creates `this` from new.target, as for a base class */
	mxPullSlot(mxResult);
	simCache(the, key);
}

void simInstallNatives(txMachine* the)
{
	mxPush(mxObjectPrototype);
	fxNewObjectInstance(the);
	gxNativeCache = *the->stack;
	mxPop();
	fxRemember(the, &gxNativeCache);

	fxNewHostFunction(the, sim_native, 1, fxID(the, "native"), XS_NO_ID);
	mxPush(mxGlobal);
	fxDefineID(the, fxID(the, "native"), XS_DONT_ENUM_FLAG, mxAllFlags);
	mxPop();
	fxNewHostFunction(the, sim_Native, 1, fxID(the, "Native"), XS_NO_ID);
	mxPush(mxGlobal);
	fxDefineID(the, fxID(the, "Native"), XS_DONT_ENUM_FLAG, mxAllFlags);
	mxPop();
}
