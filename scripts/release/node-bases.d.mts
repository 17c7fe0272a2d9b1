// Types for node-bases.mjs.
export interface LockEntry { package: string; integrity: string; file: string; sha256: string; size: number }
export interface Lock { _comment?: string; bases: Record<string, LockEntry> }
export const LOCK_COMMENT: string;
export class BaseMismatchError extends Error {}
export function readLock(file: string): Lock;
export function writeLock(file: string, lock: Lock): void;
export function sriSha512(data: Uint8Array): string;
export function verifyAndExtract(tgz: Buffer, expected: { spec: string; file: string; integrity?: string; sha256?: string }): { data: Buffer; integrity: string; sha256: string };
export function ensureBase(options: { target: string; version: string; cacheDir: string; lock: Lock; frozen?: boolean; log?: (line: string) => void }): Promise<{ path: string; sha256: string; fetched: boolean }>;
