// Scrapes GET /metrics and parses the Prometheus text format (0.0.4) strictly: every line must be a
// comment (# HELP / # TYPE) or a sample `name{label="value",...} number`, and every sample must belong
// to a family declared with # TYPE. (parse-prometheus-text-format, the npm parser, drops the labels,
// _sum and _count of labelled histograms, so it cannot check ours.)
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  /** Family name → its # TYPE. */
  types: Map<string, string>;
  samples: Sample[];
  /** The first sample named `name` whose labels include `labels`, or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

export function parseMetrics(text: string): Omit<Scrape, 'value'> {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const match = sampleLine.exec(line);
    assert.ok(match, `line ${index + 1} is not a sample: ${line}`);
    const [, name, labelText = '', value] = match;
    const family = [...types.keys()].find((family) => name === family || (name!.startsWith(family + '_') && /_(bucket|sum|count|total|created)$/.test(name!)));
    assert.ok(family, `line ${index + 1}: ${name} has no # TYPE`);
    samples.push({ name: name!, labels: parseLabels(labelText, index + 1), value: sampleValue(value!, index + 1) });
  }
  return { types, samples };
}

/** A float as Prometheus reads one (Go's ParseFloat): NaN and Inf in any case (prom-client writes `Nan`). */
function sampleValue(text: string, line: number): number {
  if (/^nan$/i.test(text)) return NaN;
  if (/^[+-]?inf$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  const value = Number(text);
  assert.ok(text.trim() !== '' && !Number.isNaN(value), `line ${line}: ${text} is not a number`);
  return value;
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  labelPair.lastIndex = 0;
  while (labelPair.lastIndex < text.length) {
    const match = labelPair.exec(text);
    assert.ok(match, `line ${line}: malformed labels {${text}}`);
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

export async function scrape(baseUrl: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`${baseUrl}/metrics`, { headers });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { types, samples } = parseMetrics(text);
  return {
    types,
    samples,
    value: (name, labels = {}) =>
      samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))?.value,
  };
}
