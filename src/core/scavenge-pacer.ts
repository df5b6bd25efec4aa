import { Transform, type TransformCallback } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Young-generation collections paced by the bytes streamed through the service.
 *
 * Every socket read hands the service a new 64 KiB buffer outside the JS heap. A streamed byte dies
 * young, but V8 only runs a young collection when the (small) on-heap young generation fills, which
 * a stream of few, large buffers hardly does; meanwhile the off-heap bytes pile up until V8 answers
 * the "external memory pressure" with a full mark-compact of the whole heap, about every 64 MiB.
 * Measured on a 1 GiB download over HTTP (2 cores): a full collection every ~100 ms, half the
 * server's CPU per GiB. A young collection every PACE bytes frees those buffers first for well
 * under a millisecond each, and the full collections stop (4.1 -> 2.0 CPU-s/GiB, 340 -> 510 MiB/s).
 *
 * Asking for a young collection needs V8's `gc` function, which Node only exposes behind a flag; it
 * is taken once here, from a throwaway context, and the flag is put back, so nothing else sees it.
 * Where it cannot be had, pacing is off and V8 behaves as it always did.
 *
 * Measured with `--trace-gc` on 512 MiB transfers over HTTP (bench/ and docs/benchmarks.md have the
 * full runs).
 */

/** Streamed bytes between two young collections: well under V8's 64 MiB external-memory step. */
export const PACE = 16 * 1024 * 1024;

/** The heap's growth between full collections, fixed (see below): V8 picks 1.1 to 4 by itself. */
const HEAP_GROWING_PERCENT = 50;

type MinorGc = (options: { type: "minor" }) => void;

function takeGc(): MinorGc | undefined {
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as MinorGc;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

const gc = takeGc();
if (gc) {
  // With pacing, the off-heap bytes alive at any time are a few MiB; what still set off full
  // collections was V8's fixed trigger of 64 MiB above the off-heap total at the last one, hit as
  // soon as anything long-lived (the part buffers of an upload, say) sat between two downloads:
  // 6-12 full collections per 512 MiB download after an upload, none in a fresh process. Counting
  // off-heap memory in V8's global heap limit instead, which grows with the heap, left none (same
  // runs: 370 -> 530 MiB/s, 3.6 -> 2.0 CPU-s/GiB). Without pacing this flag let dead buffers pile
  // up (peak RSS 400-670 MB), so it is set only where pacing runs. Set at start-up, before the heap
  // holds anything of ours; V8 reads it each time it sizes its limits.
  //
  // Counted there, off-heap memory also needs room in that limit. V8 sizes it as the heap after a
  // full collection times a factor it picks from its recent collections, and that factor fell to
  // about 1.17 during uploads: 25 MB of slack over ~150 MB (45 MB of JS heap, the rest live part
  // buffers), less than the 32 MB of frames and messages a gRPC upload turns to garbage between two
  // paced collections, so some uploads fell into a full collection per pace (trace: "global: 155MB /
  // limit 181MB"; Python client, 1 MiB messages: 106-128 MiB/s at 6-10 CPU-s/GiB against 150-165 at
  // 2.9-3.5). A fixed factor of 1.5 gave every upload the good mode (6 of 6; 2.0 did too, at about
  // 50 MB more peak RSS), with the same downloads and peak RSS as before.
  try {
    setFlagsFromString("--external-memory-accounted-in-global-limit");
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  } catch {
    // An embedder that refuses flags keeps V8's default behaviour.
  }
}
let pending = 0;
let collections = 0;

/** Counts bytes that passed through a stream and are now garbage (or soon will be). */
export function streamed(bytes: number): void {
  pending += bytes;
  if (pending < PACE || gc === undefined) return;
  pending = 0;
  collections += 1;
  gc({ type: "minor" });
}

/** How many paced collections have run (for tests), and whether pacing is available at all. */
export function pacing(): { available: boolean; collections: number } {
  return { available: gc !== undefined, collections };
}

/**
 * Passes bytes on unchanged, counting them for pacing: for bodies no integrity stream sees (byte
 * ranges, objects the index does not know), which allocate the same socket buffers.
 */
export class PacedStream extends Transform {
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    streamed(chunk.length);
    callback(null, chunk);
  }
}
