import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  encodeDataFrame,
  encodeFrame,
  encodeOutputFrame,
  FRAME_HEADER_BYTES,
  FrameError,
  FrameReader,
  OUTPUT_FRAME_HEADER_BYTES,
  OUTPUT_FRAME_TAG,
  OutputFrame,
} from './framing.js';
import { ApiMessageSchema } from './messages.js';
import { OutputSlabs, SLAB_BYTES } from './output-slabs.js';

describe('framing', () => {
  it('reassembles frames however the stream is cut, binary fields as bytes', () => {
    const data = randomBytes(70_000);
    const messages = [
      { t: 'out', vid: 1, data },
      { t: 'status', id: 'x', status: 'running', ended: null },
      { t: 'out', vid: 2, data: Buffer.alloc(0) },
    ];
    const stream = Buffer.concat(messages.map(encodeFrame));
    for (const cut of [1, 3, 4, 5, 1000, 65_536, stream.length]) {
      const reader = new FrameReader();
      const got: unknown[] = [];
      for (let at = 0; at < stream.length; at += cut) got.push(...reader.push(stream.subarray(at, at + cut)));
      expect(got).toHaveLength(3);
      const first = got[0] as { data: Uint8Array };
      expect(first.data).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(first.data).equals(data)).toBe(true);
      expect(got[1]).toEqual(messages[1]);
      expect((got[2] as { data: Uint8Array }).data.length).toBe(0);
      expect(reader.pendingBytes).toBe(0);
    }
  });

  it('refuses a frame over the limit from its header, before buffering it', () => {
    const reader = new FrameReader(1024);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(2 ** 32 - 1, 0);
    expect(() => reader.push(header)).toThrow(FrameError);
    // The stream's framing is lost: nothing more is read from it.
    expect(() => reader.push(encodeFrame({ t: 'ping', rid: 1 }))).toThrow(FrameError);
  });

  it('refuses a body that is not MessagePack', () => {
    const reader = new FrameReader();
    const body = Buffer.from([0xc1, 0xc1, 0xc1]); // 0xc1 is never used in MessagePack
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length, 0);
    expect(() => reader.push(Buffer.concat([header, body]))).toThrow(FrameError);
  });

  it('keeps a partial frame until the rest arrives', () => {
    const reader = new FrameReader();
    const frame = encodeFrame({ t: 'ping', rid: 7 });
    expect(reader.push(frame.subarray(0, frame.length - 1))).toEqual([]);
    expect(reader.pendingBytes).toBe(frame.length - 1);
    expect(reader.push(frame.subarray(frame.length - 1))).toEqual([{ t: 'ping', rid: 7 }]);
  });

  it('takes a large frame trickled a byte at a time in linear time', () => {
    const reader = new FrameReader();
    const frame = encodeFrame({ t: 'out', vid: 1, data: randomBytes(1 << 20) });
    let got: unknown[] = [];
    for (let at = 0; at < frame.length; at++) got = got.concat(reader.push(frame.subarray(at, at + 1)));
    expect(got).toHaveLength(1);
  });
});

describe('data frames (input)', () => {
  const id = '0b7d8a34-1b6e-4f0e-9b52-6a3c2f9d1e11';
  it('send the bytes as a piece of their own and decode exactly as a packed frame, however cut', () => {
    for (const size of [0, 10, 1023, 1024, 32 * 1024, 70_000]) {
      const data = randomBytes(size);
      const message = { t: 'input' as const, id, data, stream: 'stream-1', at: 123_456_789 };
      const pieces = encodeDataFrame(message);
      if (size >= 1024) {
        expect(pieces).toHaveLength(2);
        expect(pieces[1]).toBe(data); // not copied
      } else expect(pieces).toHaveLength(1);
      const stream = Buffer.concat(pieces);
      if (size < 1024) expect(stream.equals(encodeFrame(message))).toBe(true);
      for (const cut of [1, 7, 4096, stream.length]) {
        const reader = new FrameReader();
        const out: unknown[] = [];
        for (let i = 0; i < stream.length; i += cut) out.push(...reader.push(stream.subarray(i, i + cut)));
        expect(out).toHaveLength(1);
        const decoded = ApiMessageSchema.parse(out[0]);
        expect(decoded).toMatchObject({ t: 'input', id, stream: 'stream-1', at: 123_456_789 });
        expect(Buffer.from((decoded as { data: Uint8Array }).data).equals(data)).toBe(true);
      }
    }
  });
});

describe('output frames', () => {
  const frameOf = (parts: Uint8Array[]) => Buffer.concat(parts);

  it('carry bytes after a 9-byte header and decode as views, however the stream is cut', () => {
    const data = randomBytes(70_000);
    const stream = Buffer.concat([
      frameOf(encodeOutputFrame(7, data)),
      encodeFrame({ t: 'ping', rid: 1 }),
      frameOf(encodeOutputFrame(0xffff_ffff, Buffer.alloc(0))),
    ]);
    expect(encodeOutputFrame(7, data)[0]).toHaveLength(OUTPUT_FRAME_HEADER_BYTES);
    for (const cut of [1, 4, 9, 1000, 65_536, stream.length]) {
      const reader = new FrameReader();
      const got: unknown[] = [];
      for (let at = 0; at < stream.length; at += cut) got.push(...reader.push(stream.subarray(at, at + cut)));
      expect(got).toHaveLength(3);
      expect(got[0]).toBeInstanceOf(OutputFrame);
      const first = got[0] as OutputFrame;
      expect(first).toMatchObject({ t: 'out', vid: 7 });
      expect(first.data.equals(data)).toBe(true);
      expect(got[1]).toEqual({ t: 'ping', rid: 1 });
      expect(got[2]).toMatchObject({ t: 'out', vid: 0xffff_ffff });
      expect((got[2] as OutputFrame).data).toHaveLength(0);
    }
  });

  it('carry several pieces as one frame', () => {
    const parts = encodeOutputFrame(5, [Buffer.from('hel'), Buffer.from(''), Buffer.from('lo')]);
    expect(parts).toHaveLength(4);
    const [out] = new FrameReader().push(Buffer.concat(parts)) as [OutputFrame];
    expect(out).toMatchObject({ vid: 5 });
    expect(out.data.toString()).toBe('hello');
  });

  it('decode as views of the chunk when whole in it (no copy)', () => {
    const chunk = frameOf(encodeOutputFrame(1, Buffer.from('hello')));
    const [out] = new FrameReader().push(chunk) as [OutputFrame];
    expect(out.data.buffer).toBe(chunk.buffer);
  });

  it('fall back to MessagePack for a viewer id past 32 bits', () => {
    const parts = encodeOutputFrame(2 ** 33, Buffer.from('x'));
    expect(parts).toHaveLength(1);
    const [msg] = new FrameReader().push(Buffer.from(parts[0]!)) as [
      { t: string; vid: number; data: Uint8Array },
    ];
    expect(msg).not.toBeInstanceOf(OutputFrame);
    expect(msg).toMatchObject({ t: 'out', vid: 2 ** 33 });
  });

  it('refuses an output frame too short for its viewer id', () => {
    const reader = new FrameReader();
    expect(() => reader.push(Buffer.from([0, 0, 0, 3, OUTPUT_FRAME_TAG, 0, 0]))).toThrow(/no viewer id/);
  });
});

describe('a reader of reused chunks', () => {
  it('copies what it decodes out of the chunk, so the next read cannot change it', () => {
    const data = randomBytes(1000);
    const chunk = Buffer.concat([
      Buffer.concat(encodeOutputFrame(3, data)),
      encodeFrame({ t: 'msg', vid: 3, data: Buffer.from(data) }),
    ]);
    const reader = new FrameReader(undefined, { reusedChunks: true });
    const [out, msg] = reader.push(chunk) as [OutputFrame, { data: Uint8Array }];
    chunk.fill(0);
    expect(out.data.equals(data)).toBe(true);
    expect(Buffer.from(msg.data).equals(data)).toBe(true);
  });

  it('with output slabs: output frames are copied into a slab, reused once released', () => {
    const slabs = new OutputSlabs();
    const reader = new FrameReader(undefined, { reusedChunks: true, outputSlabs: slabs });
    const data = randomBytes(32 * 1024);
    const chunk = Buffer.concat([...encodeOutputFrame(1, data), ...encodeOutputFrame(2, data)]);
    const [a, b] = reader.push(chunk) as [OutputFrame, OutputFrame];
    chunk.fill(0);
    expect(a.data.equals(data) && b.data.equals(data)).toBe(true);
    expect(a.data.buffer.byteLength).toBe(SLAB_BYTES);
    expect(b.data.buffer).toBe(a.data.buffer);
    slabs.release(a.data);
    slabs.release(b.data);
    const [c] = reader.push(Buffer.concat(encodeOutputFrame(3, data))) as [OutputFrame];
    expect(c.data.buffer).toBe(a.data.buffer);
    expect(c.data.byteOffset).toBe(a.data.byteOffset); // the emptied slab is reused from its start
    expect(slabs.slabs).toBe(1);
  });
});
