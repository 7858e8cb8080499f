/**
 * WebSocket framing (RFC 6455 §5), the part of the protocol that is pure bytes: encoding the
 * masked frames a client must send, and an incremental parser for what the server sends back
 * (fragmented messages reassembled, control frames passed through as they come). Kept apart
 * from the socket so every byte layout is tested without a network.
 *
 * Why our own framing at all: Node's global WebSocket (undici) hides the HTTP status of a
 * refused upgrade, and the node must see a 429's Retry-After (and tell a 401 from an outage).
 */
import { randomBytes } from "node:crypto";

export const OPCODES = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** A cloud message bigger than this is not one of ours (the cloud's own limit is 16 KiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export type Frame = { opcode: number; payload: Buffer };

/** Client frames are always masked (§5.3); `mask` is injectable so tests can pin the bytes. */
export function encodeFrame(opcode: number, payload: Buffer, mask: Buffer = randomBytes(4)): Buffer {
  const length = payload.length;
  const extended = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const header = Buffer.alloc(2 + extended + 4);
  header[0] = 0x80 | opcode; // FIN: we never fragment what we send
  if (extended === 0) {
    header[1] = 0x80 | length;
  } else if (extended === 2) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  mask.copy(header, 2 + extended, 0, 4);
  const body = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) body[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, body]);
}

export function encodeClose(code: number, reason: string, mask?: Buffer): Buffer {
  const reasonBytes = Buffer.from(reason, "utf8").subarray(0, 123); // control payloads are ≤ 125 bytes
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return encodeFrame(OPCODES.close, payload, mask);
}

export function decodeClose(payload: Buffer): { code: number; reason: string } {
  // An empty close frame means "no status code" (§7.4.1: 1005).
  if (payload.length < 2) return { code: 1005, reason: "" };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString("utf8") };
}

export class FrameError extends Error {
  override name = "FrameError";
  /** The close code to answer with (1002 protocol error, 1009 too big). */
  readonly closeCode: number;
  constructor(message: string, closeCode: number) {
    super(message);
    this.closeCode = closeCode;
  }
}

/**
 * Feed it bytes as they arrive; it returns whole messages (text/binary, reassembled) and control
 * frames in order. Throws FrameError on a protocol violation: the caller closes the socket.
 */
export class FrameParser {
  #buffer: Buffer = Buffer.alloc(0);
  #fragments: Buffer[] = [];
  #fragmentOpcode: number | null = null;
  #fragmentBytes = 0;
  readonly #maxMessageBytes: number;

  constructor(maxMessageBytes = MAX_MESSAGE_BYTES) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  push(chunk: Buffer): Frame[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: Frame[] = [];
    for (;;) {
      const frame = this.#next();
      if (frame === null) return out;
      const message = this.#assemble(frame.fin, frame.opcode, frame.payload);
      if (message) out.push(message);
    }
  }

  #next(): { fin: boolean; opcode: number; payload: Buffer } | null {
    const buf = this.#buffer;
    if (buf.length < 2) return null;
    const fin = (buf[0]! & 0x80) !== 0;
    if ((buf[0]! & 0x70) !== 0) throw new FrameError("reserved bits set (no extension was negotiated)", 1002);
    const opcode = buf[0]! & 0x0f;
    const masked = (buf[1]! & 0x80) !== 0;
    let length = buf[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (buf.length < 4) return null;
      length = buf.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buf.length < 10) return null;
      const big = buf.readBigUInt64BE(2);
      if (big > BigInt(this.#maxMessageBytes)) throw new FrameError(`frame of ${big} bytes is too big`, 1009);
      length = Number(big);
      offset = 10;
    }
    if (length > this.#maxMessageBytes) throw new FrameError(`frame of ${length} bytes is too big`, 1009);
    const maskOffset = offset;
    if (masked) offset += 4;
    if (buf.length < offset + length) return null;
    let payload = buf.subarray(offset, offset + length);
    if (masked) {
      // Servers must not mask (§5.1), but unmasking costs nothing and hurts no one.
      const mask = buf.subarray(maskOffset, maskOffset + 4);
      payload = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
    } else {
      payload = Buffer.from(payload); // detach from the shared buffer before it is sliced away
    }
    this.#buffer = buf.subarray(offset + length);
    return { fin, opcode, payload };
  }

  #assemble(fin: boolean, opcode: number, payload: Buffer): Frame | null {
    if (opcode >= 0x8) {
      if (!fin || payload.length > 125) throw new FrameError("control frames must be whole and at most 125 bytes", 1002);
      if (opcode !== OPCODES.close && opcode !== OPCODES.ping && opcode !== OPCODES.pong) {
        throw new FrameError(`unknown control opcode ${opcode}`, 1002);
      }
      return { opcode, payload };
    }
    if (opcode === OPCODES.continuation) {
      if (this.#fragmentOpcode === null) throw new FrameError("continuation frame without a message to continue", 1002);
    } else if (opcode === OPCODES.text || opcode === OPCODES.binary) {
      if (this.#fragmentOpcode !== null) throw new FrameError("new message before the previous one finished", 1002);
      if (fin) return { opcode, payload };
      this.#fragmentOpcode = opcode;
    } else {
      throw new FrameError(`unknown data opcode ${opcode}`, 1002);
    }
    this.#fragmentBytes += payload.length;
    if (this.#fragmentBytes > this.#maxMessageBytes) throw new FrameError("message too big", 1009);
    this.#fragments.push(payload);
    if (!fin) return null;
    const message = { opcode: this.#fragmentOpcode ?? OPCODES.text, payload: Buffer.concat(this.#fragments) };
    this.#fragments = [];
    this.#fragmentOpcode = null;
    this.#fragmentBytes = 0;
    return message;
  }
}
