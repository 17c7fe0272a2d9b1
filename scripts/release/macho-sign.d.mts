// Types for macho-sign.mjs.
export interface MachOSection { sectname: string; segname: string; addr: number; size: number; offset: number; flags: number }
export interface MachOSegment { cmdAt: number; name: string; vmaddr: number; vmsize: number; fileoff: number; filesize: number; sections: MachOSection[] }
export interface MachO {
  header: { cputype: number; filetype: number; ncmds: number; sizeofcmds: number };
  segments: MachOSegment[];
  codeSignature?: { cmdAt: number; dataoff: number; datasize: number };
  loadCommandsEnd: number;
}
export interface CodeDirectory {
  version: number; flags: number; hashOffset: number; identOffset: number; nSpecialSlots: number; nCodeSlots: number;
  codeLimit: number; hashSize: number; hashType: number; pageSizeBits: number; identifier: string;
  execSegBase?: number; execSegLimit?: number; execSegFlags?: number;
}
export interface SignatureReport {
  ok: boolean; errors: string[]; signed: boolean; adhoc: boolean; cputype: number; identifier?: string;
  codeDirectories: CodeDirectory[]; pagesChecked: number;
}
export function parseMachO(buf: Buffer): MachO;
export function headerPadding(buf: Buffer, parsed?: MachO): number;
export function signatureSize(codeLimit: number, identifier: string): number;
export function adhocSign(input: Buffer, options?: { identifier?: string; linkeditVmsize?: 'page' | 'filesize' }): Buffer;
export function verifyMachOSignature(buf: Buffer): SignatureReport;
