// Bench-only preload for the broker process (`node --import`): samples event-loop delay with
// perf_hooks and answers the bench over the IPC channel. It touches no product code path.
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

if (typeof process.send === 'function') {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const ms = (ns) => Math.round((ns / 1e6) * 100) / 100;
  // Collections since the last lag-reset: full ones (mark-compact) and young ones (scavenge),
  // with the main thread's pause of each kind (incremental marking steps are not in it).
  let gcs = { full: 0, fullPauseMs: 0, young: 0, youngPauseMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        gcs.full++;
        gcs.fullPauseMs += entry.duration;
      } else if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        gcs.young++;
        gcs.youngPauseMs += entry.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (msg) => {
    if (!msg || typeof msg !== 'object' || typeof msg.benchId !== 'number') return;
    if (msg.cmd === 'lag-reset') {
      histogram.reset();
      gcs = { full: 0, fullPauseMs: 0, young: 0, youngPauseMs: 0 };
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
        gc: {
          full: gcs.full,
          fullPauseMs: Math.round(gcs.fullPauseMs * 10) / 10,
          young: gcs.young,
          youngPauseMs: Math.round(gcs.youngPauseMs * 10) / 10,
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
