// Types for pe-signature.mjs.
export function parsePe(buf: Buffer): { pe32plus: boolean; checksumAt: number; securityAt?: number; certOffset: number; certSize: number };
export function peChecksum(buf: Buffer, checksumAt?: number): number;
export function updatePeChecksum(buf: Buffer): number;
export function peSignatureInfo(buf: Buffer): { signed: boolean; certOffset: number; certSize: number; checksum: number; checksumValid: boolean };
export function stripPeSignature(buf: Buffer): { data: Buffer; removed: boolean; certSize: number };
