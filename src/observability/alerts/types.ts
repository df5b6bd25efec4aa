/** Alert thresholds as config.ts builds them (ALERT_* variables); bucket names carry the deployment prefix. */
export interface AlertSettings {
  /** Seconds between periodic checks; 0: only on demand (`alerts check`, POST /v1/admin/alerts/check). */
  checkIntervalSeconds: number;
  webhook?: { url: string; timeoutSeconds: number; retries: number };
  buckets: {
    maxBytes: Record<string, number>;
    maxObjects: Record<string, number>;
    /** A bucket's quota in bytes; the alert fires at quotaPercent of it. */
    quotaBytes: Record<string, number>;
    quotaPercent: number;
  };
  /** Share of requests (0..1) answered with a server error since the previous check. */
  errorRate?: number;
  /** HTTP request latency, 99th percentile since the previous check (seconds). */
  p99LatencySeconds?: number;
  /** Fire when MinIO reports the cluster degraded (nodes or drives offline) or without write quorum. */
  minioDegraded: boolean;
  /** Free bytes on the local backend's disk below which the alert fires (local backend only). */
  minFreeDiskBytes?: number;
}

export type AlertState = "firing" | "resolved";

/** One condition as a check saw it. */
export interface Observation {
  /** Stable id: `bucket_bytes:<bucket>`, `error_rate`, ... */
  alert: string;
  breached: boolean;
  value: number;
  threshold: number;
  message: string;
  details: Record<string, string | number>;
}

/** An alert as recorded (one row per alert, shared by every instance). */
export interface AlertRecord {
  alert: string;
  state: AlertState;
  value: number;
  threshold: number;
  message: string;
  details: Record<string, string | number>;
  /** When it entered its current state. */
  since: Date;
  checkedAt: Date;
}

/** A state change: what is logged, counted and posted to the webhook. */
export interface AlertEvent {
  alert: string;
  state: AlertState;
  value: number;
  threshold: number;
  message: string;
  details: Record<string, string | number>;
  at: string;
  service: "lumenslate-storage";
}

export interface AlertCheck {
  checkedAt: Date;
  /** State changes this check made (empty when nothing changed, or another instance got there first). */
  events: AlertEvent[];
  /** Every recorded alert after the check. */
  alerts: AlertRecord[];
}
