import { existsSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AdminStatus } from '@tether/protocol';

/** Samples shorter than this reuse the previous figures: percentages over a few ms are noise. */
const MIN_SAMPLE_MS = 1_000;

interface CpuTimes {
  idle: number;
  total: number;
}

function machineCpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * CPU and event-loop figures over the interval since the previous sample (so a dashboard polling
 * every few seconds sees current load, not the average since boot). Call `stop()` on shutdown.
 */
export function createHostSampler() {
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  let last = {
    at: performance.now(),
    process: process.cpuUsage(),
    machine: machineCpuTimes(),
  };
  let figures = { processPercent: 0, systemPercent: 0, eventLoopLagMs: 0 };

  return {
    cpu(): { processPercent: number; systemPercent: number; eventLoopLagMs: number } {
      const at = performance.now();
      const elapsedMs = at - last.at;
      if (elapsedMs < MIN_SAMPLE_MS) return figures;
      const proc = process.cpuUsage(last.process);
      const machine = machineCpuTimes();
      const busy = machine.total - last.machine.total - (machine.idle - last.machine.idle);
      const spent = machine.total - last.machine.total;
      figures = {
        processPercent: round1(((proc.user + proc.system) / 1000 / elapsedMs) * 100),
        systemPercent: spent > 0 ? round1((busy / spent) * 100) : 0,
        // Mean delay beyond the timer resolution: how late callbacks ran, on average.
        eventLoopLagMs: round1(Math.max(0, loop.mean / 1e6 - 20)),
      };
      loop.reset();
      last = { at, process: process.cpuUsage(), machine };
      return figures;
    },
    stop(): void {
      loop.disable();
    },
  };
}

export type HostSampler = ReturnType<typeof createHostSampler>;

/** Free space of the file system holding `dir` (or its nearest existing parent). */
export async function diskUsage(dir: string): Promise<AdminStatus['disk']> {
  let p = path.resolve(dir);
  while (!existsSync(p) && path.dirname(p) !== p) p = path.dirname(p);
  try {
    const s = await statfs(p);
    return {
      path: p,
      totalBytes: s.blocks * s.bsize,
      freeBytes: s.bfree * s.bsize,
      availableBytes: s.bavail * s.bsize,
    };
  } catch {
    return null;
  }
}

/** Parses Linux `/proc/net/dev`. */
export function parseNetDev(text: string): AdminStatus['network'] {
  const out: AdminStatus['network'] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({
      interface: m[1]!,
      rxBytes: f[0]!,
      rxPackets: f[1]!,
      rxErrors: f[2]!,
      txBytes: f[8]!,
      txPackets: f[9]!,
      txErrors: f[10]!,
    });
  }
  return out;
}

export async function networkCounters(): Promise<AdminStatus['network']> {
  try {
    return parseNetDev(await readFile('/proc/net/dev', 'utf8'));
  } catch {
    return [];
  }
}

export function memoryFigures(): AdminStatus['memory'] {
  const m = process.memoryUsage();
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    heapTotalBytes: m.heapTotal,
    externalBytes: m.external,
    systemTotalBytes: os.totalmem(),
    systemFreeBytes: os.freemem(),
  };
}
