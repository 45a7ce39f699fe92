import { describe, expect, it } from 'vitest';
import { pageLabel, readNdjson } from './netbox';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(enc.encode(c));
      controller.close();
    },
  });
}

describe('readNdjson', () => {
  it('yields each event as its line completes, across chunk boundaries', async () => {
    const seen: string[] = [];
    const last = await readNdjson(
      streamOf([
        '{"type":"progress","phase":"fetch","fetched":1000,"total":2500}\n{"type":"prog',
        'ress","phase":"fetch","fetched":2500,"total":2500}\nnot json\n',
        '{"type":"done","result":{"fetched":2500,"added":1,"updated":0,"unchanged":0,"skipped":[],"foldersAdded":[],"ms":5}}',
      ]),
      (e) => seen.push(e.type === 'progress' ? `${e.fetched}/${e.total}` : e.type),
    );
    expect(seen).toEqual(['1000/2500', '2500/2500', 'done']);
    expect(last?.type).toBe('done');
  });
});

describe('pageLabel', () => {
  it('describes the visible slice', () => {
    expect(pageLabel(0, 50, 2500)).toBe('1–50 of 2,500');
    expect(pageLabel(0, 0, 0)).toBe('No devices');
  });
});
