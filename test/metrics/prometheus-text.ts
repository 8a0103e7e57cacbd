/**
 * A strict reader of the Prometheus text exposition format (0.0.4) for tests: every line must be a HELP, a TYPE or a
 * sample of a declared family, so that a malformed scrape fails the test that reads it.
 */
import assert from 'node:assert/strict';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  /** family name → TYPE */
  types: Map<string, string>;
  samples: PromSample[];
  /** Samples named `name` whose labels include every label given. */
  find(name: string, labels?: Record<string, string>): PromSample[];
  /** The value of the one sample named `name` with exactly these labels (0 when there is none). */
  value(name: string, labels?: Record<string, string>): number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

function parseValue(text: string): number {
  if (/^nan$/i.test(text)) return Number.NaN;
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const n = Number(text);
  assert.ok(text !== '' && !Number.isNaN(n), `not a sample value: ${text}`);
  return n;
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix) && types.get(name.slice(0, -suffix.length)) === 'histogram') return name.slice(0, -suffix.length);
  }
  return undefined;
}

export function parsePrometheusText(text: string): PromText {
  const types = new Map<string, string>();
  const samples: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a line of the text format: ${JSON.stringify(line)}`);
    const [, name, labelText = '', valueText] = m;
    assert.ok(familyOf(name!, types), `sample of an undeclared family: ${line}`);
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    let consumed = 0;
    for (let l = LABEL.exec(labelText); l; l = LABEL.exec(labelText)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
      consumed = LABEL.lastIndex;
    }
    assert.equal(consumed, labelText.length, `malformed labels: ${line}`);
    samples.push({ name: name!, labels, value: parseValue(valueText!) });
  }
  const matches = (s: PromSample, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    types,
    samples,
    find: (name, labels = {}) => samples.filter((s) => s.name === name && matches(s, labels)),
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && matches(s, labels) && Object.keys(s.labels).length === Object.keys(labels).length);
      assert.ok(found.length <= 1, `${found.length} samples of ${name} ${JSON.stringify(labels)}`);
      return found[0]?.value ?? 0;
    },
  };
}
