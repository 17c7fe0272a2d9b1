// Types for checksums.mjs.
export function sha256(data: Uint8Array | string): string;
export function sha256File(file: string): Promise<string>;
export function formatSums(sums: Record<string, string>): string;
export function parseSums(text: string): Record<string, string>;
export function verifySumsFile(sumsFile: string): Promise<{ name: string; expected: string; actual: string }[]>;
