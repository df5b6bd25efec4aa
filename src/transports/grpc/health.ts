import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import type { AppContext } from "../../app.ts";
import { STORAGE_SERVICE_NAME } from "./definition.ts";

type HealthServer = Parameters<HealthImplementation["addToServer"]>[0];
type Implementation = Parameters<HealthServer["addService"]>[1];
type Handler = Implementation[string];
type UnaryHandler = (call: unknown, callback: unknown) => void;

export interface HealthOptions {
  /** How often the store and database are probed in the background. */
  intervalMs?: number;
  /** A probe slower than this counts as a failure. */
  timeoutMs?: number;
}

/**
 * grpc.health.v1 for the whole server ("") and for StorageService: SERVING while the object store
 * and the metadata database answer (app.ready()), NOT_SERVING otherwise, and NOT_SERVING for good
 * once shutdown begins. The status is refreshed every few seconds and on each Check (probes that
 * arrive together share one refresh), so Watch streams see changes without anyone polling.
 */
export class GrpcHealth {
  readonly #app: Pick<AppContext, "ready" | "logger">;
  readonly #impl = new HealthImplementation({ "": "NOT_SERVING", [STORAGE_SERVICE_NAME]: "NOT_SERVING" });
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #timer: NodeJS.Timeout | undefined;
  #probe: Promise<ServingStatus> | undefined;
  #status: ServingStatus = "NOT_SERVING";
  #stopped = false;

  constructor(app: Pick<AppContext, "ready" | "logger">, options: HealthOptions = {}) {
    this.#app = app;
    this.#intervalMs = options.intervalMs ?? 5_000;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
  }

  get status(): ServingStatus {
    return this.#status;
  }

  /** Adds the Health service; Check refreshes the status before it answers. */
  addToServer(server: HealthServer): void {
    this.#impl.addToServer({
      addService: (definition, implementation) => {
        const check = implementation.check as unknown as UnaryHandler;
        const refreshingCheck: UnaryHandler = (call, callback) => {
          void this.refresh().finally(() => check(call, callback));
        };
        server.addService(definition, { ...implementation, check: refreshingCheck as Handler });
      },
    });
  }

  /** Probes now and starts the background refresh. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.#stopped || this.#timer) return;
    this.#timer = setInterval(() => void this.refresh(), this.#intervalMs);
    this.#timer.unref();
  }

  /** NOT_SERVING from now on (load balancers drain us while in-flight calls finish). */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#set("NOT_SERVING");
  }

  refresh(): Promise<ServingStatus> {
    this.#probe ??= this.#check().finally(() => {
      this.#probe = undefined;
    });
    return this.#probe;
  }

  async #check(): Promise<ServingStatus> {
    if (this.#stopped) return "NOT_SERVING";
    let timer: NodeJS.Timeout | undefined;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    let next: ServingStatus;
    try {
      // The database ping takes no signal, hence the race as well.
      await Promise.race([this.#app.ready(signal), timeout]);
      next = "SERVING";
    } catch (err) {
      if (this.#status !== "NOT_SERVING") this.#app.logger.warn({ err }, "grpc health: not serving");
      next = "NOT_SERVING";
    } finally {
      clearTimeout(timer);
    }
    if (!this.#stopped) this.#set(next);
    return this.#status;
  }

  #set(next: ServingStatus): void {
    // Watch streams get a message per setStatus, and the protocol promises one per change.
    if (next === this.#status) return;
    if (next === "SERVING") this.#app.logger.info("grpc health: serving");
    this.#status = next;
    this.#impl.setStatus("", next);
    this.#impl.setStatus(STORAGE_SERVICE_NAME, next);
  }
}
