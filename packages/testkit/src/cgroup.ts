import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Memory cgroups for tests that run a process under a memory limit, natively (no containers):
 * cgroup v1 (a `memory` hierarchy, e.g. /sys/fs/cgroup/memory) or v2 (the unified hierarchy with
 * the memory controller delegated to the test's own cgroup). Each cgroup is created below the
 * test process's own cgroup, so whatever limits and accounting already apply to the test still
 * apply to what it starts.
 */

/** What one memory cgroup reports; bytes unless said otherwise. */
export interface CgroupMemory {
  limit: number;
  usage: number;
  /** Highest usage since the cgroup was made (v1 max_usage_in_bytes, v2 memory.peak; else null). */
  peak: number | null;
  /** Times usage hit the limit (v1 memory.failcnt, v2 memory.events `max`). */
  failcnt: number;
  /** Processes the kernel's OOM killer killed in it (null: this kernel does not say). */
  oomKill: number | null;
  /** v1 `under_oom` (processes waiting for memory); v2 has no such state: 0. */
  underOom: number;
  /** Anonymous memory (v1 memory.stat `rss`, v2 `anon`): the heap and stacks, no page cache. */
  anon: number | null;
}

export interface MemoryCgroup {
  path: string;
  version: 1 | 2;
  /**
   * A command prefix that puts the process it starts into this cgroup, then execs its arguments
   * (for `launcher` in @failway/stack's StartOptions): the process is inside before Node starts.
   */
  launcher: string[];
  read(): CgroupMemory;
  pids(): number[];
  /** Kills whatever is left inside (SIGKILL), waits until it is empty, removes it; idempotent. */
  remove(): Promise<void>;
}

export interface MemoryCgroups {
  version: 1 | 2;
  /** The directory the test's cgroups are made in (the test process's own cgroup). */
  parent: string;
  /** A new cgroup `<prefix>-<pid>-<name>` with `limitBytes`, not allowed to swap. */
  create(name: string, limitBytes: number): MemoryCgroup;
}

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';
const PREFIX = 'failway-mem';

const read = (path: string) => readFileSync(path, 'utf8');
const write = (path: string, value: string) => writeFileSync(path, value);
const exists = (path: string) => existsSync(path);

/** `key value` lines (memory.stat, memory.events, v1 memory.oom_control) as numbers. */
function keyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

/** This process's cgroup path in the v1 hierarchy with `controller`, or the v2 one (`0::`). */
function ownCgroup(controller: string | null): string | undefined {
  for (const line of read('/proc/self/cgroup').split('\n')) {
    const [id, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (controller === null ? id === '0' && controllers === '' : controllers?.split(',').includes(controller))
      return path;
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cgroups an earlier run left behind when it was killed (the pid in the name is gone): the
 * services it started there are orphans, so they are killed and the cgroup removed; best effort
 * (what cannot go yet goes next time).
 */
function sweepStale(parent: string): void {
  for (const entry of readdirSync(parent)) {
    const match = new RegExp(`^${PREFIX}-(\\d+)-`).exec(entry);
    if (!match || alive(Number(match[1]))) continue;
    try {
      for (const pid of read(join(parent, entry, 'cgroup.procs'))
        .split('\n')
        .filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone already
        }
      }
      rmdirSync(join(parent, entry));
    } catch {
      // not empty, or already gone: leave it
    }
  }
}

function makeCgroup(version: 1 | 2, parent: string, name: string, limitBytes: number): MemoryCgroup {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`cgroup name "${name}": use a-z, 0-9 and -`);
  const path = join(parent, `${PREFIX}-${process.pid}-${name}`);
  mkdirSync(path);
  let removed = false;
  const file = (f: string) => join(path, f);
  const pids = () => (exists(path) ? read(file('cgroup.procs')).split('\n').filter(Boolean).map(Number) : []);
  const remove = async () => {
    if (removed || !exists(path)) return;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const left = pids();
      if (!left.length) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      if (Date.now() > deadline) throw new Error(`${path}: processes ${left.join(', ')} would not die`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The kernel may still be tearing the last process down for a moment after cgroup.procs empties.
    for (;;) {
      try {
        rmdirSync(path);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    removed = true;
  };
  try {
    if (version === 1) {
      write(file('memory.limit_in_bytes'), String(limitBytes));
      // No swapping instead of hitting the limit (as Kubernetes runs pods). Not through
      // memory.memsw.limit_in_bytes: a charge refused by that counter does not count in
      // memory.failcnt (and recent kernels keep no memsw.failcnt), so failcnt would stay 0.
      try {
        write(file('memory.swappiness'), '0');
      } catch {
        // older kernels refuse it below a hierarchy; without swap it changes nothing anyway
      }
    } else {
      write(file('memory.max'), String(limitBytes));
      if (exists(file('memory.swap.max'))) write(file('memory.swap.max'), '0');
    }
  } catch (error) {
    rmdirSync(path);
    throw error;
  }
  const readMemory = (): CgroupMemory => {
    if (version === 1) {
      const oom = keyed(read(file('memory.oom_control')));
      const stat = keyed(read(file('memory.stat')));
      return {
        limit: Number(read(file('memory.limit_in_bytes'))),
        usage: Number(read(file('memory.usage_in_bytes'))),
        peak: Number(read(file('memory.max_usage_in_bytes'))),
        failcnt: Number(read(file('memory.failcnt'))),
        oomKill: oom.get('oom_kill') ?? null,
        underOom: oom.get('under_oom') ?? 0,
        anon: stat.get('rss') ?? null,
      };
    }
    const events = keyed(read(file('memory.events')));
    const stat = keyed(read(file('memory.stat')));
    return {
      limit: Number(read(file('memory.max'))),
      usage: Number(read(file('memory.current'))),
      peak: exists(file('memory.peak')) ? Number(read(file('memory.peak'))) : null,
      failcnt: events.get('max') ?? 0,
      oomKill: events.get('oom_kill') ?? null,
      underOom: 0,
      anon: stat.get('anon') ?? null,
    };
  };
  return {
    path,
    version,
    // `$$` is the shell's pid; exec keeps it, so Node runs as that process, already inside.
    launcher: ['sh', '-c', `echo $$ > '${file('cgroup.procs')}' && exec "$@"`, 'sh'],
    read: readMemory,
    pids,
    remove,
  };
}

/**
 * Memory cgroups this process may make, or the one-line reason it may not (not root, no memory
 * controller, v2 without the controller delegated to this process's cgroup). It tries for real:
 * a probe cgroup is made with a limit and removed.
 */
export function memoryCgroups():
  | { cgroups: MemoryCgroups; reason?: undefined }
  | { cgroups?: undefined; reason: string } {
  let version: 1 | 2;
  let parent: string;
  if (process.platform !== 'linux')
    return { reason: `memory cgroups need Linux (this is ${process.platform})` };
  try {
    if (exists(join(V1_ROOT, 'memory.limit_in_bytes'))) {
      version = 1;
      parent = join(V1_ROOT, ownCgroup('memory') ?? '/');
    } else if (exists(join(V2_ROOT, 'cgroup.controllers'))) {
      version = 2;
      parent = join(V2_ROOT, ownCgroup(null) ?? '/');
      const delegated = exists(join(parent, 'cgroup.subtree_control'))
        ? read(join(parent, 'cgroup.subtree_control')).split(/\s+/)
        : [];
      if (!delegated.includes('memory')) {
        return {
          reason: `cgroup v2: the memory controller is not enabled for children of ${parent} (a cgroup with processes cannot delegate it; run the tests in a delegated scope, e.g. systemd-run --user --scope -p Delegate=yes)`,
        };
      }
    } else {
      return { reason: `no cgroup memory controller at ${V1_ROOT} (v1) or ${V2_ROOT} (v2)` };
    }
    sweepStale(parent);
    const probe = makeCgroup(version, parent, 'probe', 64 * 1024 * 1024);
    rmdirSync(probe.path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return {
      reason: `cannot make memory cgroups here (${e.code ?? e.message}${e.path ? ` on ${e.path}` : ''}; needs root)`,
    };
  }
  const v = version;
  const p = parent;
  return {
    cgroups: { version: v, parent: p, create: (name, limitBytes) => makeCgroup(v, p, name, limitBytes) },
  };
}
