/** WebSocket framing byte for byte (RFC 6455 §5): what the node sends and how it reads the cloud. */
import { describe, expect, it } from "vitest";
import { FrameError, FrameParser, OPCODES, decodeClose, encodeClose, encodeFrame } from "../../agent/ws-frames.ts";

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A server frame: never masked. */
function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, length])
    : length <= 0xffff ? Buffer.from([(fin ? 0x80 : 0) | opcode, 126, length >> 8, length & 0xff])
    : (() => {
      const h = Buffer.alloc(10);
      h[0] = (fin ? 0x80 : 0) | opcode;
      h[1] = 127;
      h.writeBigUInt64BE(BigInt(length), 2);
      return h;
    })();
  return Buffer.concat([header, payload]);
}

describe("encodeFrame (client → cloud)", () => {
  it("masks a short text frame exactly as RFC 6455 §5.7's example", () => {
    expect(encodeFrame(OPCODES.text, Buffer.from("Hello"), MASK)).toEqual(
      Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
    );
  });

  it.each([125, 126, 65535, 65536])("a %i-byte payload uses the right length form and parses back", (size) => {
    const payload = Buffer.alloc(size, 0x61);
    const frame = encodeFrame(OPCODES.text, payload, MASK);
    const lengthByte = frame[1]! & 0x7f;
    expect(lengthByte).toBe(size < 126 ? size : size <= 0xffff ? 126 : 127);
    expect(frame[1]! & 0x80).toBe(0x80);
    const [parsed] = new FrameParser().push(frame);
    expect(parsed?.payload.equals(payload)).toBe(true);
  });

  it("a close frame carries the code and a reason cut to fit a control frame", () => {
    const frame = encodeClose(1000, "x".repeat(300), MASK);
    const [parsed] = new FrameParser().push(frame);
    expect(parsed?.opcode).toBe(OPCODES.close);
    expect(parsed?.payload.length).toBe(125);
    expect(decodeClose(parsed!.payload)).toEqual({ code: 1000, reason: "x".repeat(123) });
    expect(decodeClose(Buffer.alloc(0))).toEqual({ code: 1005, reason: "" });
  });
});

describe("FrameParser (cloud → client)", () => {
  it("reads frames split at every byte and several frames in one chunk", () => {
    const bytes = Buffer.concat([serverFrame(OPCODES.text, Buffer.from('{"type":"welcome"}')), serverFrame(OPCODES.ping, Buffer.from("p"))]);
    const parser = new FrameParser();
    const frames = [...bytes].flatMap((byte) => parser.push(Buffer.from([byte])));
    expect(frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([[OPCODES.text, '{"type":"welcome"}'], [OPCODES.ping, "p"]]);
    expect(new FrameParser().push(bytes)).toHaveLength(2);
  });

  it("reassembles a fragmented message, with a ping between its fragments delivered first", () => {
    const parser = new FrameParser();
    const frames = parser.push(Buffer.concat([
      serverFrame(OPCODES.text, Buffer.from("hel"), false),
      serverFrame(OPCODES.ping, Buffer.alloc(0)),
      serverFrame(OPCODES.continuation, Buffer.from("lo"), false),
      serverFrame(OPCODES.continuation, Buffer.from("!"), true),
    ]));
    expect(frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([[OPCODES.ping, ""], [OPCODES.text, "hello!"]]);
  });

  it("refuses a frame bigger than the limit before buffering it (1009)", () => {
    const parser = new FrameParser(1024);
    const header = Buffer.from([0x81, 127, 0, 0, 0, 0, 0, 0x10, 0, 0]);
    expect(() => parser.push(header)).toThrow(FrameError);
    try {
      new FrameParser(1024).push(header);
    } catch (error) {
      expect((error as FrameError).closeCode).toBe(1009);
    }
  });

  it.each([
    ["a continuation with nothing to continue", serverFrame(OPCODES.continuation, Buffer.from("x"))],
    ["reserved bits (no extension was negotiated)", Buffer.from([0xc1, 0x01, 0x61])],
    ["a fragmented control frame", serverFrame(OPCODES.ping, Buffer.alloc(0), false)],
    ["an unknown opcode", serverFrame(0x3, Buffer.from("x"))],
  ])("refuses %s as a protocol error (1002)", (_name, bytes) => {
    try {
      new FrameParser().push(bytes);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FrameError);
      expect((error as FrameError).closeCode).toBe(1002);
    }
  });
});
