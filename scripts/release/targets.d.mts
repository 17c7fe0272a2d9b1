// Types for targets.mjs.
export interface Target { os: 'linux' | 'macos' | 'win'; arch: 'x64' | 'arm64'; format: 'elf' | 'macho' | 'pe'; npm: string; binary: string; exe: '' | '.exe'; archive: 'tar.gz' | 'zip' }
export const NODE_VERSION: string;
export const TARGETS: Record<string, Target>;
export const TARGET_NAMES: string[];
export function hostTarget(platform?: string, arch?: string): string | undefined;
export function executableName(appName: string, version: string, target: string): string;
export function archiveName(appName: string, version: string, target: string): string;
export function parseTargets(value?: string): string[];
