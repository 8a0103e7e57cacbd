/** What the bench reads about processes and the machine from /proc (Linux only). */
import { readdirSync, readFileSync } from 'node:fs';

/** Resident memory of a process and all its descendants (cluster workers), in bytes. */
export function treeRss(pid: number): number {
  let total = 0;
  const visit = (p: number) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) total += Number(m[1]) * 1024;
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        for (const k of kids ? kids.split(/\s+/) : []) visit(Number(k));
      }
    } catch {
      // the process went away between reads
    }
  };
  visit(pid);
  return total;
}

/** CPU seconds (user + system, all threads) of a process and its descendants. */
export function treeCpu(pid: number): number {
  let ticks = 0;
  const visit = (p: number) => {
    try {
      // Fields after the command name (which may hold spaces), counted from the state field: utime is the 12th.
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        for (const k of kids ? kids.split(/\s+/) : []) visit(Number(k));
      }
    } catch {
      // the process went away between reads
    }
  };
  visit(pid);
  return ticks / CLOCK_TICKS;
}
/** Ticks of all CPUs together since boot: [busy, idle]. */
export function machineTicks(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!;
  return [f.reduce((a, b) => a + b, 0) - idle, idle];
}
/** USER_HZ: 100 on every Linux build that matters; /proc reports times in these ticks. */
const CLOCK_TICKS = 100;
