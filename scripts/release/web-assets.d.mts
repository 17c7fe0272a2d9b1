// Types for web-assets.mjs.
export function collectWebAssets(dir: string): Record<string, Buffer>;
export function webAssetsDefine(dir: string): string;
