import { type NetboxImportEvent, NetboxImportEventSchema } from '@tether/protocol';

/**
 * Reads an NDJSON body line by line as it arrives (the NetBox import's progress), calling
 * `onEvent` per valid event; returns the last one. Lines that are not events are ignored.
 */
export async function readNdjson(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: NetboxImportEvent) => void,
): Promise<NetboxImportEvent | undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let last: NetboxImportEvent | undefined;
  const take = (line: string) => {
    if (!line.trim()) return;
    let parsed: ReturnType<typeof NetboxImportEventSchema.safeParse>;
    try {
      parsed = NetboxImportEventSchema.safeParse(JSON.parse(line));
    } catch {
      return;
    }
    if (!parsed.success) return;
    last = parsed.data;
    onEvent(parsed.data);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      take(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
    }
  }
  take(buffered + decoder.decode());
  return last;
}

/** `1–50 of 2,500` */
export function pageLabel(offset: number, shown: number, count: number): string {
  if (count === 0) return 'No devices';
  return `${(offset + 1).toLocaleString('en')}–${(offset + shown).toLocaleString('en')} of ${count.toLocaleString('en')}`;
}
