// Types of src/relaxed-probe.mjs for the TypeScript that imports it.
export declare const RELAXED_PROBE: Uint8Array<ArrayBuffer>;
