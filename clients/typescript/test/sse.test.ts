// The SSE parser on a sample stream cut at every byte: whatever the chunks, the same events.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SseParser, type SseEvent } from "../src/index.js";

// Every rule in one stream: a byte order mark, the three line ends (and a CRLF whose
// CR and LF may land in different chunks), comments, a field without a colon, `data:`
// without a space, multi-line data, multi-byte UTF-8 (2, 3 and 4 bytes), an id that
// carries over, an id with NUL (ignored), blocks without data (nothing dispatched),
// an unknown field, and an unfinished event at the end (dropped).
const SAMPLE =
  "\uFEFF: a comment\r\n" +
  "event: message.created\r\n" +
  'data: {"id":1,"message":"héllo 👋"}\r\n' +
  "\r\n" +
  "event: message.delta\n" +
  "data: line one\n" +
  "data:line two\n" +
  "data\n" +
  "id: 1\n" +
  "retry: 3000\n" +
  "\n" +
  "event: message.delta\r" +
  "id: 2\r" +
  "data: 東京 ✓\r" +
  "\r" +
  ":keep-alive\n" +
  "\n" +
  "event: ignored without data\n" +
  "\n" +
  "id: 3\0\r\n" +
  "data: no event name\r\n" +
  "\r\n" +
  "event: message.completed\n" +
  'data: {"done":true}\n' +
  "\n" +
  "event: unfinished\n" +
  "data: dropped";

const EXPECTED: SseEvent[] = [
  { event: "message.created", data: '{"id":1,"message":"héllo 👋"}', id: null },
  { event: "message.delta", data: "line one\nline two\n", id: "1" },
  { event: "message.delta", data: "東京 ✓", id: "2" },
  { event: "message", data: "no event name", id: "2" },
  { event: "message.completed", data: '{"done":true}', id: "2" },
];

const bytes = new TextEncoder().encode(SAMPLE);

function parse(chunks: Uint8Array[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

test("the whole stream in one chunk", () => {
  assert.deepEqual(parse([bytes]), EXPECTED);
});

test("split in two at every byte", () => {
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(parse([bytes.subarray(0, cut), bytes.subarray(cut)]), EXPECTED, `cut at byte ${cut}`);
  }
});

test("split in three at every pair of bytes", () => {
  for (let first = 1; first < bytes.length; first++) {
    for (let second = first + 1; second < bytes.length; second++) {
      const chunks = [bytes.subarray(0, first), bytes.subarray(first, second), bytes.subarray(second)];
      assert.deepEqual(parse(chunks), EXPECTED, `cuts at bytes ${first} and ${second}`);
    }
  }
});

test("one byte at a time", () => {
  assert.deepEqual(parse(Array.from(bytes, (byte) => Uint8Array.of(byte))), EXPECTED);
});

test("events come out as soon as their blank line arrives", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("event: message.delta\ndata: a\n"), []);
  assert.deepEqual(parser.push("\n"), [{ event: "message.delta", data: "a", id: null }]);
  // A lone CR ends the line at once; the LF that may follow in the next chunk is not a second, blank, line.
  assert.deepEqual(parser.push("data: b\r"), []);
  assert.deepEqual(parser.push("\ndata: c\r\n"), []);
  assert.deepEqual(parser.push("\r\n"), [{ event: "message", data: "b\nc", id: null }]);
});
