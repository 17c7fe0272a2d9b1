// Results: one JSON line per measured round in bench/results/<date>.jsonl, and a Markdown table of
// medians with same-round ratios and a verdict against issue 9's targets.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { root } from './lib/proc.ts';

export interface RoundRecord {
  scenario: string;
  system: string; // 'flashhub' | 'bare' | 'sio'
  server: string; // which process: flashhub, ws-bare, sse-bare, sio
  round: number;
  value: number; // the scenario's figure (per second, KB per connection, ms …)
  unit: string;
  perServerCpuSecond?: number;
  serverCpu: number; // share of one core during the window
  loadCpu: number;
  otherCpu: number; // other processes, share of one core
  elapsed: number;
  inconclusive?: string;
  detail?: Record<string, unknown>;
  date: string;
  quick: boolean;
}

export interface Target {
  /** ratio flashhub / baseline that must be met: 'min' means at least, 'max' at most */
  bare?: { kind: 'min' | 'max'; ratio: number };
  sio?: { kind: 'min' | 'max'; ratio: number };
  absolute?: { kind: 'min' | 'max'; value: number };
}

export function resultsFile(date = new Date()): string {
  const dir = path.join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, `${date.toISOString().slice(0, 10)}.jsonl`);
}

export function writeRecord(file: string, record: RoundRecord): void {
  appendFileSync(file, JSON.stringify(record) + '\n');
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2;
};

const fmt = (v: number | undefined, unit = ''): string => {
  if (v === undefined || !Number.isFinite(v)) return '–';
  const abs = Math.abs(v);
  const s = abs >= 100 ? Math.round(v).toLocaleString('en') : abs >= 10 ? v.toFixed(1) : v.toFixed(2);
  return unit ? `${s} ${unit}` : s;
};

export interface ScenarioSummary {
  scenario: string;
  unit: string;
  flashhub?: number;
  flashhubPerCpu?: number;
  bare?: number;
  barePerCpu?: number;
  sio?: number;
  sioPerCpu?: number;
  ratioBare?: number;
  ratioSio?: number;
  inconclusive: string[];
  /** the figures come from rounds flagged inconclusive: shown in italics, not a result */
  unsure?: boolean;
  verdict: string;
}

function verdict(t: Target | undefined, s: ScenarioSummary, allInconclusive: boolean): string {
  if (!t) return 'no target';
  if (allInconclusive) return 'inconclusive';
  const parts: string[] = [];
  const check = (label: string, v: number | undefined, c: { kind: 'min' | 'max'; ratio?: number; value?: number }, x: string) => {
    const want = c.ratio ?? c.value!;
    if (v === undefined) return parts.push(`${label}: not measured`);
    const ok = c.kind === 'min' ? v >= want : v <= want;
    if (ok) parts.push(`${label} met (${fmt(v)}${x} ${c.kind === 'min' ? '≥' : '≤'} ${want}${x})`);
    else parts.push(`**${label} missed** (${fmt(v)}${x} vs ${c.kind === 'min' ? '≥' : '≤'} ${want}${x}, ${c.kind === 'min' ? `${((1 - v / want) * 100).toFixed(0)}% short` : `${((v / want - 1) * 100).toFixed(0)}% over`})`);
  };
  if (t.bare) check('vs bare', s.ratioBare, t.bare, 'x');
  if (t.sio) check('vs Socket.IO', s.ratioSio, t.sio, 'x');
  if (t.absolute) check('target', s.flashhub, t.absolute, '');
  return parts.join('; ');
}

/** Medians over conclusive rounds (all rounds when none is), ratios taken round by round. */
export function summarize(scenario: string, records: RoundRecord[], target?: Target, higherPerCpu = true): ScenarioSummary {
  const mine = records.filter((r) => r.scenario === scenario);
  const unit = mine[0]?.unit ?? '';
  const ok = (r: RoundRecord) => !r.inconclusive;
  const rounds = [...new Set(mine.map((r) => r.round))];
  const roundOk = (round: number) => mine.filter((r) => r.round === round).every(ok);
  const goodRounds = rounds.filter(roundOk);
  const use = goodRounds.length > 0 ? goodRounds : rounds;
  const pick = (system: string, f: (r: RoundRecord) => number | undefined) =>
    median(mine.filter((r) => r.system === system && use.includes(r.round)).map(f).filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const ratio = (other: string) =>
    median(
      use
        .map((round) => {
          const a = mine.find((r) => r.round === round && r.system === 'flashhub');
          const b = mine.find((r) => r.round === round && r.system === other);
          return a && b && b.value ? a.value / b.value : undefined;
        })
        .filter((v): v is number => v !== undefined),
    );
  const s: ScenarioSummary = {
    scenario,
    unit,
    flashhub: pick('flashhub', (r) => r.value),
    flashhubPerCpu: pick('flashhub', (r) => r.perServerCpuSecond),
    bare: pick('bare', (r) => r.value),
    barePerCpu: pick('bare', (r) => r.perServerCpuSecond),
    sio: pick('sio', (r) => r.value),
    sioPerCpu: pick('sio', (r) => r.perServerCpuSecond),
    ratioBare: ratio('bare'),
    ratioSio: ratio('sio'),
    inconclusive: [...new Set(mine.filter((r) => r.inconclusive).map((r) => `r${r.round} ${r.system}: ${r.inconclusive}`))],
    verdict: '',
  };
  void higherPerCpu;
  s.unsure = goodRounds.length === 0 && mine.some((r) => r.inconclusive);
  s.verdict = verdict(target, s, goodRounds.length === 0 && mine.some((r) => r.inconclusive));
  if (goodRounds.length === 0 && mine.some((r) => r.inconclusive)) s.verdict = `inconclusive (${s.inconclusive.length} of ${mine.length} runs flagged: ${[...new Set(mine.flatMap((r) => (r.inconclusive ?? '').split('; ')).filter(Boolean).map((x) => x.replace(/ ?\(?\d+% CPU\)?/g, '').replace(/: \d+ of \d+/, '').trim()))].join(', ')})`;
  return s;
}

export function markdown(rows: ScenarioSummary[]): string {
  const out = [
    '| scenario | unit | flashhub | bare | Socket.IO | flashhub/bare | flashhub/Socket.IO | per server CPU-s (fh / bare / sio) | verdict |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const f = (v: number | undefined) => (r.unsure && v !== undefined ? `_${fmt(v)}_` : fmt(v));
    const perCpu = r.flashhubPerCpu === undefined ? '–' : `${f(r.flashhubPerCpu)} / ${f(r.barePerCpu)} / ${f(r.sioPerCpu)}`;
    out.push(`| ${r.scenario} | ${r.unit} | ${f(r.flashhub)} | ${f(r.bare)} | ${f(r.sio)} | ${f(r.ratioBare)} | ${f(r.ratioSio)} | ${perCpu} | ${r.verdict} |`);
  }
  return out.join('\n');
}
