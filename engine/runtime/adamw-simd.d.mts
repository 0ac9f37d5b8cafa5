// Types of adamw-simd.mjs (plain JavaScript so the device thread loads it without a TypeScript loader).
export declare const CHUNK: number;
type Kernel = (w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, coef: number, c1: number, beta2: number, c2: number, stepSize: number, invBc2Sqrt: number, eps: number, decay: number) => void;
export declare function simdAdamw(jsTail: Kernel): Kernel | null;
