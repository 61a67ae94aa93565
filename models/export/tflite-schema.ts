/**
 * The slice of tensorflow/lite/schema/schema.fbs (schema version 3, file identifier "TFL3") that the
 * exporter writes and the importer reads: field ids (vtable slot numbers, in declaration order; a
 * union takes two ids, `<name>_type` then `<name>`) and enum values.
 */

export const TFLITE_SCHEMA_VERSION = 3;
export const TFLITE_IDENTIFIER = 'TFL3';

/** Field ids per table, named as in schema.fbs. */
export const T = {
  Model: { version: 0, operator_codes: 1, subgraphs: 2, description: 3, buffers: 4 },
  OperatorCode: { deprecated_builtin_code: 0, custom_code: 1, version: 2, builtin_code: 3 },
  SubGraph: { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 },
  Tensor: { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4 },
  QuantizationParameters: { min: 0, max: 1, scale: 2, zero_point: 3, details_type: 4, details: 5, quantized_dimension: 6 },
  Operator: { opcode_index: 0, inputs: 1, outputs: 2, builtin_options_type: 3, builtin_options: 4, custom_options: 5 },
  FullyConnectedOptions: { fused_activation_function: 0, weights_format: 1, keep_num_dims: 2, asymmetric_quantize_inputs: 3 },
  Buffer: { data: 0, offset: 1, size: 2 },
} as const;

/** `enum TensorType : byte`. */
export const TensorType = { FLOAT32: 0, INT32: 2, UINT8: 3, INT8: 9 } as const;

/** `enum BuiltinOperator` (int32 since the builtin-code extension; values < 127 also fit the byte). */
export const BuiltinOperator = { DEQUANTIZE: 6, FULLY_CONNECTED: 9, QUANTIZE: 114 } as const;

/**
 * Names of builtin operators (schema.fbs BuiltinOperator) a small model is likely to contain, for
 * refusal messages; any other code is printed as its number.
 */
export const BUILTIN_NAMES: Readonly<Record<number, string>> = {
  0: 'ADD', 1: 'AVERAGE_POOL_2D', 2: 'CONCATENATION', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D', 6: 'DEQUANTIZE',
  9: 'FULLY_CONNECTED', 14: 'LOGISTIC', 17: 'MAX_POOL_2D', 18: 'MUL', 19: 'RELU', 21: 'RELU6', 22: 'RESHAPE',
  25: 'SOFTMAX', 27: 'SVDF', 28: 'TANH', 32: 'CUSTOM', 34: 'PAD', 40: 'MEAN', 41: 'SUB', 43: 'SQUEEZE', 114: 'QUANTIZE',
  126: 'BATCH_MATMUL',
};

/** `union BuiltinOptions`: FullyConnectedOptions is its 8th member (NONE = 0). */
export const BuiltinOptions = { NONE: 0, FullyConnectedOptions: 8 } as const;

/** `enum ActivationFunctionType : byte`. */
export const ActivationFunctionType = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4, SIGN_BIT: 5 } as const;

/** `enum FullyConnectedOptionsWeightsFormat : byte`. */
export const FC_WEIGHTS_DEFAULT = 0;

/**
 * Operator version the runtime must support for an int8 FULLY_CONNECTED with bias
 * (tensorflow/lite/tools/versioning/op_version.cc: "Int8 fully fixed point kernel is at version 4";
 * 5 = keep_num_dims, 6 = no bias, 7 = int16).
 */
export const FC_INT8_VERSION = 4;
