// Progress of a command that moves a whole store (migrate, import) on stderr: a bar per phase on a
// terminal, plain lines otherwise (a log file, CI), so the output stays readable either way.

/** Where a phase stands; store/migrate.ts's Progress is one. */
export interface PhaseProgress {
  phase: string;
  done: number;
  total: number;
  finished: boolean;
}

/** A bar redrawn in place when stderr is a terminal; otherwise a line per phase, and one every few seconds. */
export function progressDisplay(out: NodeJS.WriteStream, command: string): (p: PhaseProgress) => void {
  return out.isTTY ? progressBar(out) : progressLines(out, command);
}

const BAR_WIDTH = 30;
/** Redraws at most this often: a million messages in pages of 500 would otherwise be 2,000 redraws. */
const REDRAW_MS = 100;
const LINE_EVERY_MS = 5000;

function progressBar(out: NodeJS.WriteStream): (p: PhaseProgress) => void {
  let drawn = 0;
  return (p) => {
    const now = Date.now();
    if (!p.finished && p.done > 0 && now - drawn < REDRAW_MS) return;
    drawn = now;
    const total = Math.max(p.total, p.done);
    const share = total === 0 ? 1 : p.done / total;
    const filled = Math.round(share * BAR_WIDTH);
    const bar = '#'.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
    const percent = `${Math.floor(share * 100)}%`.padStart(4);
    out.write(`\r\x1b[K${p.phase.padEnd(13)} [${bar}] ${percent}  ${p.done}/${total}${p.finished ? '\n' : ''}`);
  };
}

function progressLines(out: NodeJS.WriteStream, command: string): (p: PhaseProgress) => void {
  let written = 0;
  return (p) => {
    const now = Date.now();
    if (p.finished) out.write(`${command}: ${p.phase} ${p.done}/${Math.max(p.total, p.done)} done\n`);
    else if (p.done === 0) written = now; // a phase starts: its first line comes after LINE_EVERY_MS
    else if (now - written >= LINE_EVERY_MS) {
      written = now;
      out.write(`${command}: ${p.phase} ${p.done}/${p.total}\n`);
    }
  };
}
