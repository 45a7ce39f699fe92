// Imported first by main.tsx and importing nothing itself, so it runs before zod is loaded.
//
// zod decides at schema construction whether it may compile parsers with `new Function`, probing
// for it once; under the broker's CSP (no 'unsafe-eval') that probe is reported as a violation
// on every page load. zod reads this global config object when it loads, and with `jitless` it
// neither probes nor compiles.
const scope = globalThis as { __zod_globalConfig?: Record<string, unknown> };
scope.__zod_globalConfig = { ...scope.__zod_globalConfig, jitless: true };

export {};
