import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this runs on

/** CPU seconds (user + system) a process has used so far, from /proc; undefined if it is gone. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by every process whose command name is `name` (PostgreSQL's backends). */
function cpuOfProcessesNamed(name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== name) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND);
    } catch {
      // gone between the listing and the read
    }
  }
  return out;
}

/** Busy CPU seconds of the whole machine so far (every core, idle and iowait excluded). */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = v;
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
    TICKS_PER_SECOND
  );
}

/**
 * Cores used by each named process (and the machine) between `start()` and `stop()`: shows which
 * process a CPU-bound bench was waiting on, and how much the rest of the machine took.
 */
export function cpuMeter(pids: Record<string, number | undefined>) {
  const t0 = performance.now();
  const machine0 = machineBusySeconds();
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)]));
  const postgres0 = cpuOfProcessesNamed('postgres');
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const cores: Record<string, number> = {};
    let ours = 0;
    for (const [name, pid] of Object.entries(pids)) {
      const a = start[name];
      const b = processCpuSeconds(pid);
      if (a === undefined || b === undefined) continue;
      cores[name] = Number(((b - a) / seconds).toFixed(2));
      ours += b - a;
    }
    const machine = (machineBusySeconds() - machine0) / seconds;
    cores.machine = Number(machine.toFixed(2));
    // Every PostgreSQL process on the machine (a backend that started meanwhile counts from zero;
    // one that ended meanwhile is missed): on a quiet machine, the server's own share.
    let pg = 0;
    for (const [pid, now] of cpuOfProcessesNamed('postgres')) pg += now - (postgres0.get(pid) ?? 0);
    cores.postgres = Number((pg / seconds).toFixed(2));
    // The kernel's share (loopback networking, disk) and whatever else runs on the machine.
    cores.rest = Number((machine - ours / seconds - pg / seconds).toFixed(2));
    return cores;
  };
}
