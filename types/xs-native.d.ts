// Moddable's standard-syntax native bindings (xs/includes/xs.d.ts in SDK 8.x), missing from @moddable/typings 5.6.
// xsc compiles `native("xs_name")` into a host function bound to the C function xs_name, and
// `class X extends Native("xs_destructor")` into a host class; the sim host gives both the same meaning.
declare function native(name: string): (...args: any[]) => any;
declare function Native(name: string): new (...args: any[]) => any;
