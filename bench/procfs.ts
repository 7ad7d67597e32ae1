// Per-process CPU time and resident memory from Linux's /proc; undefined elsewhere (printed n/a).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, freemem, platform, release, totalmem } from 'node:os';

export const HAS_PROC = platform() === 'linux';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (almost always 100). */
export const CLK_TCK: number = (() => {
  if (!HAS_PROC) return 100;
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const value = Number(out.stdout?.trim());
  return Number.isInteger(value) && value > 0 ? value : 100;
})();

/** CPU seconds (user + system, all threads) the process has used so far. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (!HAS_PROC || pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of the line (utime, stime) are 11 and 12 after the name.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Resident memory (VmRSS) in bytes. */
export function rssBytes(pid: number | undefined): number | undefined {
  if (!HAS_PROC || pid === undefined) return undefined;
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  node: string;
  os: string;
  kernel: string;
  loadAverage?: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  let loadAverage: string | undefined;
  if (HAS_PROC) {
    try {
      loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    } catch {
      loadAverage = undefined;
    }
  }
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpuCount: list.length,
    totalMemoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    node: process.version,
    os: platform(),
    kernel: release(),
    ...(loadAverage ? { loadAverage } : {}),
  };
}
