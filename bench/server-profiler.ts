import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

/**
 * CPU profiles of the bench server per workload, on request of the bench process (over the IPC
 * channel): {profile: "start"} then {profile: "stop", name} writes <dir>/<name>.cpuprofile and
 * answers {profiled: path}. The same V8 sampler as --cpu-prof, but one file per workload, so a GET
 * profile holds no PUTs. Enabled by BENCH_PROFILE_DIR (bench/transports.ts passes it on).
 */

interface Command {
  profile: "start" | "stop";
  name?: string;
}

export async function serveProfiles(dir: string): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error("BENCH_PROFILE_DIR needs the IPC channel bench/transports.ts opens");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  // 500 µs between samples (V8's default is 1 ms): enough of them from a short workload.
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  process.on("message", (message: Command) => {
    const answer =
      message.profile === "start"
        ? session.post("Profiler.start").then(() => ({ profiling: true }))
        : session.post("Profiler.stop").then(async ({ profile }) => {
            const path = join(dir, `${message.name ?? "profile"}.cpuprofile`);
            await writeFile(path, JSON.stringify(profile));
            return { profiled: path };
          });
    answer.then(
      (a) => send(a),
      (err: unknown) => send({ error: String(err) }),
    );
  });
  // The IPC channel must not keep the server alive after SIGTERM's clean shutdown.
  process.channel?.unref();
}
