// Node single executable applications: the SEA blob, its injection into a base binary, and the
// checks that the result is what Node will load.
//
// Node 22 (<= 25.4) path, as measured in reference/packaging.md:
// - the blob is made by `<node of exactly the target version> --experimental-sea-config cfg.json`
//   (the format changes within a major: a blob from another version crashes at start);
// - postject injects it: an ELF note / a PE resource / a Mach-O section NODE_SEA,__NODE_SEA_BLOB, and
//   flips the fuse NODE_SEA_FUSE_...:0 -> :1;
// - Windows: the Authenticode signature is removed before (it would be left corrupt) and the PE
//   checksum recomputed after; macOS: an ad-hoc signature after (postject drops node's).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { adhocSign, parseMachO, verifyMachOSignature } from './macho-sign.mjs';
import { peSignatureInfo, stripPeSignature, updatePeChecksum } from './pe-signature.mjs';
import { TARGETS } from './targets.mjs';

export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
export const SEA_RESOURCE = 'NODE_SEA_BLOB';
export const MACHO_SEGMENT = 'NODE_SEA';
/** The blob's file name in the work directory given to makeSeaBlob. */
export const SEA_BLOB_FILE = 'sea-prep.blob';

/**
 * The SEA configuration. No snapshot and no code cache: both are specific to the machine that makes
 * the blob, and one blob serves all five targets. execArgvExtension "none": NODE_OPTIONS and
 * --node-options are ignored, so the environment cannot inject code into the executable.
 */
export function seaConfig(main, output) {
  return {
    main,
    output,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    execArgvExtension: 'none',
  };
}

/** Makes the blob with `generator` (the pinned node of the embedded version for this machine). */
export function makeSeaBlob({ generator, main, workDir }) {
  mkdirSync(workDir, { recursive: true });
  // The blob records the main script's path as written in the config (it names the script in stack
  // traces): a bare file name beside the config keeps the checkout's location out of the executable.
  const mainName = path.basename(main);
  copyFileSync(main, path.join(workDir, mainName));
  const config = path.join(workDir, 'sea-config.json');
  const output = path.join(workDir, SEA_BLOB_FILE);
  rmSync(output, { force: true });
  writeFileSync(config, `${JSON.stringify(seaConfig(mainName, SEA_BLOB_FILE), null, 2)}\n`);
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  execFileSync(generator, ['--experimental-sea-config', config], { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return readFileSync(output);
}

let postjectInject;
async function loadPostject() {
  if (!postjectInject) {
    // postject is CommonJS (module.exports = { inject }); loaded only in release builds.
    postjectInject = createRequire(import.meta.url)('postject').inject;
  }
  return postjectInject;
}

/**
 * Injects `blob` into a copy of `base` (a Buffer) for `target` and writes the executable to `out`.
 * Returns the executable's bytes.
 */
export async function buildExecutable({ base, blob, target, out, identifier }) {
  const info = TARGETS[target];
  let exe = base;
  if (info.format === 'pe') exe = stripPeSignature(exe).data;
  rmSync(out, { force: true });
  writeFileSync(out, exe, { mode: 0o755 });
  const inject = await loadPostject();
  // postject's LIEF prints harmless notes ("Can't find string offset for section name '.note.100'")
  // through console.warn, bound when its module starts: keep them, and show them only on failure.
  const notes = [];
  const warn = console.warn;
  console.warn = (...parts) => notes.push(parts.join(' '));
  try {
    await inject(out, SEA_RESOURCE, blob, {
      sentinelFuse: SEA_FUSE,
      machoSegmentName: info.format === 'macho' ? MACHO_SEGMENT : undefined,
    });
  } catch (error) {
    throw new Error(`postject failed for ${target}: ${error instanceof Error ? error.message : error}${notes.length ? `\n${notes.join('\n')}` : ''}`);
  } finally {
    console.warn = warn;
  }
  let result = readFileSync(out);
  if (info.format === 'macho') {
    result = adhocSign(result, { identifier });
  } else if (info.format === 'pe') {
    updatePeChecksum(result);
  }
  rmSync(out, { force: true });
  writeFileSync(out, result, { mode: 0o755 });
  return result;
}

/**
 * Structural checks that need no way to run the file: the fuse is flipped exactly once, the blob is
 * embedded verbatim, and per format: Mach-O has the NODE_SEA/__NODE_SEA_BLOB section and a valid
 * ad-hoc signature; PE has no (corrupt) signature left and a correct checksum; ELF is an ELF.
 * Returns a list of problems (empty: fine) and details.
 */
export function checkExecutable(exe, target, blob) {
  const info = TARGETS[target];
  const problems = [];
  const details = {};
  const flipped = exe.indexOf(`${SEA_FUSE}:1`);
  if (flipped === -1) problems.push('SEA fuse not flipped (":1" missing)');
  else if (exe.indexOf(SEA_FUSE, flipped + 1) !== -1) problems.push('SEA fuse occurs more than once');
  if (blob && exe.indexOf(blob) === -1) problems.push('the SEA blob is not embedded verbatim');
  if (info.format === 'elf') {
    if (exe.readUInt32BE(0) !== 0x7f454c46) problems.push('not an ELF file');
    const machine = exe.readUInt16LE(18);
    const wanted = info.arch === 'x64' ? 0x3e : 0xb7;
    if (machine !== wanted) problems.push(`ELF machine 0x${machine.toString(16)}, expected 0x${wanted.toString(16)}`);
  } else if (info.format === 'macho') {
    const parsed = parseMachO(exe);
    const cpu = info.arch === 'x64' ? 0x01000007 : 0x0100000c;
    if (parsed.header.cputype !== cpu) problems.push(`Mach-O CPU type 0x${parsed.header.cputype.toString(16)}, expected 0x${cpu.toString(16)}`);
    const segment = parsed.segments.find((s) => s.name === MACHO_SEGMENT);
    const section = segment?.sections.find((s) => s.sectname === `__${SEA_RESOURCE}`);
    if (!section) problems.push(`no ${MACHO_SEGMENT},__${SEA_RESOURCE} section`);
    else if (blob && !exe.subarray(section.offset, section.offset + section.size).subarray(0, blob.length).equals(blob)) problems.push('the __NODE_SEA_BLOB section does not hold the blob');
    const signature = verifyMachOSignature(exe);
    details.signature = { adhoc: signature.adhoc, identifier: signature.identifier, pages: signature.pagesChecked };
    if (!signature.ok) problems.push(...signature.errors.map((e) => `signature: ${e}`));
    if (!signature.adhoc) problems.push('signature: not ad hoc');
  } else if (info.format === 'pe') {
    const pe = peSignatureInfo(exe);
    details.pe = pe;
    if (pe.signed) problems.push('PE still carries a certificate table (a corrupt signature after injection)');
    if (!pe.checksumValid) problems.push('PE checksum is wrong');
  }
  return { problems, details };
}
