// Moddable's "text/decoder": the sim host installs Moddable's C TextDecoder as a global at start.
const TextDecoder = (globalThis as any).TextDecoder;
export default TextDecoder;
