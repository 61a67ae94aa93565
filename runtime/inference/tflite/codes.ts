/** Error codes of the TFLite inference layer: the 7xxx range of runtime/core/errors.ts, by name. */
import { ErrorCode } from '../../core/errors.js';

export const TfliteErrorCode = {
  /** The bytes are not a readable TFLite flatbuffer (identifier, bounds, offsets). */
  ModelInvalid: ErrorCode.ModelInvalid,
  /** The flatbuffer is readable but uses something this runtime does not handle (type, per-channel I/O). */
  ModelUnsupported: ErrorCode.ModelUnsupported,
  /** The TFLite engine refused the model or failed to start. */
  EngineLoadFailed: ErrorCode.EngineLoadFailed,
  /** The WASM engine trapped/aborted while running or freeing the model; that engine instance is gone. */
  ModelCrashed: ErrorCode.ModelCrashed,
  /** run() after dispose() or after a crash. */
  ModelNotUsable: ErrorCode.ModelNotUsable,
  /** run() inputs do not match the model (count or element count). */
  InputMismatch: ErrorCode.InputMismatch,
  /** Infer() returned false (TFLite status error, not a trap). */
  InferFailed: ErrorCode.InferFailed,
} as const;
