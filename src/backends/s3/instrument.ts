import type { S3Client } from "@aws-sdk/client-s3";

export type CallObserver = (operation: string, seconds: number, error?: string) => void;

/** Reports every S3 command (name, duration, error name) to `observe`, via the SDK's middleware stack. */
export function instrumentS3Client(client: S3Client, observe: CallObserver): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? "unknown").replace(/Command$/, "");
      const started = performance.now();
      try {
        const result = await next(args);
        observe(operation, (performance.now() - started) / 1000);
        return result;
      } catch (err) {
        observe(operation, (performance.now() - started) / 1000, (err as Error)?.name ?? "Error");
        throw err;
      }
    },
    { step: "initialize", name: "lumenslateMetrics", override: true },
  );
}
