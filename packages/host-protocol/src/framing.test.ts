import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES, FrameError, FrameReader } from './framing.js';

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
