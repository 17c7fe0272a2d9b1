// Types for archives.mjs (the build scripts are plain JS so they run on any host Node).
export interface ArchiveEntry { name: string; data: Uint8Array; mode?: number }
export interface TarFile { name: string; type: string; size: number; mode: number; uid: number; gid: number; mtime: number; uname: string; gname: string; data: Buffer }
export interface ZipFile { name: string; mode: number; dosDate: number; dosTime: number; data: Buffer }
export function crc32(data: Uint8Array): number;
export function createTar(entries: ArchiveEntry[]): Buffer;
export function readTar(buf: Buffer): TarFile[];
export function gzipDeterministic(data: Uint8Array, level?: number): Promise<Buffer>;
export function createTarGz(entries: ArchiveEntry[], level?: number): Promise<Buffer>;
export function createZip(entries: ArchiveEntry[], level?: number): Promise<Buffer>;
export function readZip(buf: Buffer): ZipFile[];
