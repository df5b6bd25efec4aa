import { Readable } from "node:stream";

/**
 * Reads at least `bytes` bytes (fewer if the stream ends first) and returns them with a stream that
 * replays them followed by the rest. Errors and cancellation of the returned stream reach the source.
 */
export async function peek(source: Readable, bytes: number): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let total = 0;
  let done = false;
  while (total < bytes) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    total += chunk.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay() {
    if (head.length > 0) yield head;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const stream = Readable.from(replay(), { objectMode: false, highWaterMark: 1024 * 1024 });
  stream.once("close", () => {
    if (!stream.readableEnded) void iterator.return?.();
  });
  return { head, stream };
}
