// Summarises a V8 CPU profile written by `npm run bench -- --profile DIR`: self time by function and by module,
// idle time left out (the profile also covers the idle ceiling run).
//   node bench/profile-summary.mjs DIR/CPU.*.cpuprofile [top=40]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 40);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const selfByNode = new Map();
profile.samples.forEach((id, i) => selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const byFunction = new Map();
const byModule = new Map();
let total = 0;
const root = new URL('..', import.meta.url).href;
for (const [id, us] of selfByNode) {
  const frame = nodes.get(id).callFrame;
  if (frame.functionName === '(idle)') continue;
  total += us;
  const url = frame.url.replace(root, '');
  const fn = `${frame.functionName || '(anonymous)'} ${url}${url ? `:${frame.lineNumber + 1}` : ''}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  const mod = pkg ? `npm:${pkg}` : url || frame.functionName;
  byModule.set(mod, (byModule.get(mod) ?? 0) + us);
}
const print = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
};
console.log(`busy CPU time: ${(total / 1000).toFixed(0)} ms`);
print('self time by function', byFunction, top);
print('self time by module', byModule, 25);
