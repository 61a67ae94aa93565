/**
 * One error type for the whole project (STYLE §6). Every failure a user can see carries a stable
 * numeric code, grouped in ranges per layer, printed in the message ("E1203"), plus what to do next.
 * Tests assert on `code`, never on message text.
 */

export const ErrorCode = {
  // 1xxx: configuration and command line
  ConfigInvalid: 1001,
  ConfigUnreadable: 1002,
  ProfileInvalid: 1004,
  UsageInvalid: 1003,
  // 2xxx: transport (serial link, pseudo-terminal)
  SerialNotFound: 2001,
  SerialPermission: 2002,
  SerialOpenFailed: 2003,
  SerialClosed: 2004,
  PtyUnavailable: 2005,
  CommandFailed: 2006,
  CommandUnsupported: 2007,
  // 3xxx: framing and codec
  FrameTooLarge: 3001,
  FrameInvalid: 3002,
  // 4xxx: QA engine
  QaGraphInvalid: 4001,
  // 5xxx: publishing (MQTT)
  BrokerUnreachable: 5001,
  BrokerRejected: 5002,
  BrokerStartFailed: 5003,
  PublishFailed: 5004,
  /** The durable outbox could not write or sync a record (disk full, I/O error): the record is refused, accepted ones are kept. */
  OutboxWriteFailed: 5005,
  /** A record larger than the outbox accepts (options maxRecordBytes / maxBytes). */
  OutboxRecordTooLarge: 5006,
  /** Another live process holds the outbox directory. */
  OutboxLocked: 5007,
  /** The outbox directory cannot be created, listed or read at open. */
  OutboxOpenFailed: 5008,
  /** An uplink payload (JSON, CBOR or Sparkplug B) cannot be decoded: bad bytes, or an unknown content type. */
  PayloadInvalid: 5009,
  // 6xxx: simulator and evaluation
  ScenarioUnknown: 6001,
  SimStalled: 6002,
  CsvInvalid: 6003,
  ReportFailed: 6004,
  // 7xxx: models and inference
  ModelInvalid: 7001,
  ModelUnsupported: 7002,
  EngineLoadFailed: 7003,
  ModelCrashed: 7004,
  ModelNotUsable: 7005,
  InputMismatch: 7006,
  InferFailed: 7007,
  EngineFailed: 7008,
  ModelRefused: 7010,
  // 8xxx: adaptation and budget governor
  /** An adaptation checkpoint could not be written or synced (disk full, I/O error): the previous generation is kept. */
  CheckpointWriteFailed: 8001,
  /** No checkpoint generation in the directory passes its checksum (all corrupt or truncated). */
  CheckpointCorrupt: 8002,
  /** The checkpoint directory cannot be created, listed or read. */
  CheckpointUnreadable: 8003,
  // 9xxx: internal invariants (a bug in tinyqa)
  Internal: 9001,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface TinyqaErrorOptions {
  /** What the user can do about it; printed after the message. */
  hint?: string;
  cause?: unknown;
}

export class TinyqaError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: TinyqaErrorOptions = {}) {
    super(`E${code} ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TinyqaError';
    this.code = code;
    this.hint = options.hint;
  }

  /** One line for a terminal: code, message, and the hint if any. */
  describe(): string {
    return this.hint ? `${this.message} — ${this.hint}` : this.message;
  }
}

export function isTinyqaError(e: unknown, code?: ErrorCode): e is TinyqaError {
  return e instanceof TinyqaError && (code === undefined || e.code === code);
}

/** Message of anything thrown, without assuming it is an Error. */
export function errorMessage(e: unknown): string {
  if (e instanceof TinyqaError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}
