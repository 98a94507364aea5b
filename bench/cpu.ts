import { readdirSync, readFileSync } from 'node:fs';

/** utime + stime and parent of a process from /proc (Linux), in microseconds; undefined once it has gone. */
function stat(pid: number): { cpu: number; parent: number } | undefined {
  try {
    // the command name (field 2) may hold spaces and parentheses: the fields we want follow its last ')'
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { cpu: ((Number(f[11]) + Number(f[12])) * 1e6) / TICKS, parent: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** Clock ticks per second for /proc times: 100 on every Linux build that matters here. */
const TICKS = 100;

/** A process's command line as `ps` shows it: PostgreSQL rewrites it to name a backend's user and database. */
function title(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/**
 * CPU time used so far by a process and all its descendants (PostgreSQL's backends are its postmaster's children),
 * in microseconds; undefined where /proc is missing. Descendants that exited in between are not counted, so
 * measure over a span in which the tree is stable. Descendants whose title `skip` matches are left out with their
 * own descendants (the backends of another database in the same cluster).
 */
export function treeCpuMicros(root: number, skip?: (title: string) => boolean): number | undefined {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return undefined;
  }
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const pid of pids) {
    const s = stat(pid);
    if (!s) continue;
    cpu.set(pid, s.cpu);
    children.set(s.parent, [...(children.get(s.parent) ?? []), pid]);
  }
  if (!cpu.has(root)) return undefined;
  let total = 0;
  for (const stack = [root]; stack.length;) {
    const pid = stack.pop()!;
    if (skip && pid !== root && skip(title(pid))) continue;
    total += cpu.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}
