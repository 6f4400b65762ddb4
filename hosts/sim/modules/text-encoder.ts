// Moddable's "text/encoder": the sim host installs Moddable's C TextEncoder as a global at start.
const TextEncoder = (globalThis as any).TextEncoder;
export default TextEncoder;
