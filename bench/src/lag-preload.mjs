// Bench-only preload for the broker process (`node --import`): samples event-loop delay with
// perf_hooks and answers the bench over the IPC channel. It touches no product code path.
import { monitorEventLoopDelay } from 'node:perf_hooks';

if (typeof process.send === 'function') {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const ms = (ns) => Math.round((ns / 1e6) * 100) / 100;
  process.on('message', (msg) => {
    if (!msg || typeof msg !== 'object' || typeof msg.benchId !== 'number') return;
    if (msg.cmd === 'lag-reset') {
      histogram.reset();
      process.send({ benchId: msg.benchId, ok: true });
    } else if (msg.cmd === 'gc') {
      // Only with --expose-gc (the bench passes it): lets RSS readings count retained memory,
      // not garbage that happens to be uncollected at that instant.
      if (typeof globalThis.gc === 'function') {
        globalThis.gc();
        globalThis.gc();
      }
      process.send({ benchId: msg.benchId, ok: typeof globalThis.gc === 'function' });
    } else if (msg.cmd === 'lag-read') {
      const m = process.memoryUsage();
      process.send({
        benchId: msg.benchId,
        lag: {
          p50: ms(histogram.percentile(50)),
          p99: ms(histogram.percentile(99)),
          max: ms(histogram.max),
          mean: ms(histogram.mean),
          count: histogram.count,
        },
        memory: {
          rss: m.rss,
          heapUsed: m.heapUsed,
          heapTotal: m.heapTotal,
          external: m.external,
          arrayBuffers: m.arrayBuffers,
        },
      });
    }
  });
  // The bench holds the other end; it must never keep the broker alive on its own.
  process.channel?.unref();
}
