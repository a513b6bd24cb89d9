// Puts the committed results (bench/results.json) into README.md's Performance section, between
// the markers below: `node --import tsx bench/readme.ts` after a full `npm run bench`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Results, formatNumber, remeasuredText, targetText } from './harness';

const REPO = join(__dirname, '..');
export const START = '<!-- bench-results:start (written by bench/readme.ts from bench/results.json) -->';
export const END = '<!-- bench-results:end -->';

function range(median: number | null, min?: number, max?: number): string {
  if (median === null) return '—';
  return min === undefined || max === undefined || min === max ? formatNumber(median) : `${formatNumber(median)} (${formatNumber(min)}–${formatNumber(max)})`;
}

export function renderReadmeSection(results: Results): string {
  const m = results.machine;
  const measured = results.rows.filter((r) => r.value !== null && !r.error);
  const lines = [
    START,
    `Measured ${results.date.slice(0, 10)} on ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}; ` +
      `1-minute load average ${m.loadAtStart[0]} at the start and ${m.loadAtEnd?.[0] ?? '?'} at the end (it counts the benchmarks' own processes, and at the start whatever ran in the minute before). ` +
      'Medians with (min–max); ratio = value / baseline, measured pair by pair. All rows, with their notes: ' +
      '[bench/results.md](bench/results.md).' +
      (results.remeasured ?? []).map((r) => ` ${remeasuredText(r)}`).join(''),
    '',
    '| benchmark | value | baseline | ratio | target |',
    '| --- | ---: | ---: | ---: | --- |',
    ...measured.map((r) => {
      const baseline = r.baseline === null ? '—' : `${range(r.baseline, r.baselineMin, r.baselineMax)} ${r.unit} ${r.baselineLabel ?? ''}`.trim();
      const target = targetText(r);
      return `| ${r.name} | ${range(r.value, r.valueMin, r.valueMax)} ${r.unit} | ${baseline} | ${range(r.ratio, r.ratioMin, r.ratioMax)} | ${target} |`;
    }),
    END,
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const results = JSON.parse(readFileSync(join(REPO, 'bench', 'results.json'), 'utf8')) as Results;
  const path = join(REPO, 'README.md');
  const readme = readFileSync(path, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} section`);
  writeFileSync(path, readme.slice(0, start) + renderReadmeSection(results) + readme.slice(end + END.length));
  process.stdout.write(`README.md: Performance table updated from bench/results.json (${results.date})\n`);
}
