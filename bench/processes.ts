/**
 * Child processes of a benchmark run (the service and the baseline server) and the CPU time they
 * spend: utime + stime of every thread, read from /proc/<pid>/stat, so argon2's worker threads
 * count as much as the event loop.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (microseconds) the process has used so far, all threads, user + system. */
export function processCpuMicros(pid: number): number {
  return cpuMicrosOf(`/proc/${pid}/stat`);
}

/** CPU time of the process's main thread alone (for Node, the event loop; its workers left out). */
export function mainThreadCpuMicros(pid: number): number {
  return cpuMicrosOf(`/proc/${pid}/task/${pid}/stat`);
}

/**
 * Times the main thread went to sleep (voluntary context switches: the event loop found nothing
 * to do and waited) and was preempted (involuntary). Each wake-up after a sleep runs on caches the
 * other threads (argon2's workers, above all) have filled with their own data.
 */
export function mainThreadSwitches(pid: number): { sleeps: number; preemptions: number } {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { sleeps: field('voluntary_ctxt_switches'), preemptions: field('nonvoluntary_ctxt_switches') };
}

function cpuMicrosOf(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  // The command name (field 2) may contain spaces; count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLOCK_TICKS_PER_SECOND;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface ServerProcess {
  name: string;
  baseUrl: string;
  pid: number;
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr (warnings and errors only: LOG_LEVEL=warn). */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `node --import tsx <entry>` with exactly `env` (plus PATH) and waits until `readyPath` answers 200. */
export async function startServer(name: string, entry: string, env: Record<string, string>, readyPath: string): Promise<ServerProcess> {
  const port = Number(env.PORT);
  // BENCH_CPU_PROF=DIR: every server writes a V8 CPU profile there when it exits (node --cpu-prof),
  // for finding what a scenario spends its time on (README, Benchmarks).
  const profileDir = process.env.BENCH_CPU_PROF;
  // A folder per server: each thread (tsx's loader worker too) writes a file of its own there.
  const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name.replace(/\W+/g, '-'))}`] : [];
  const child = spawn(process.execPath, [...profiling, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  // If this process dies without stopping its children (SIGKILL), a watchdog stops the child: it
  // polls both and sends SIGTERM only while the child still lives and this process is gone.
  spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -0 ${process.pid} 2>/dev/null || kill -TERM ${child.pid} 2>/dev/null`], {
    detached: true,
    stdio: 'ignore',
  }).unref();
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within 60 s:\n${output}`);
    }
    const ready = await fetch(`${baseUrl}${readyPath}`).then((response) => response.status === 200, () => false);
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    name,
    baseUrl,
    pid: child.pid!,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
