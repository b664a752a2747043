// A rough size of a model's weights, from the parameter count in its name (`Llama-3.1-70B`,
// `Mixtral-8x22B`, `Qwen3-30B-A3B`, `Qwen3-0.6B`) and the precision its flags or name give
// (FP8 / INT8 one byte per parameter, AWQ / GPTQ / INT4 half a byte, otherwise bf16, two bytes).
// It is an estimate from the name only: a name without a parameter count gives null.

export interface SizeEstimate {
  /** Billions of parameters read from the name. */
  billions: number;
  bytesPerParameter: number;
  gigabytes: number;
}

export function estimateModelSize(model: string, quantization?: string, dtype?: string): SizeEstimate | null {
  const name = model.split('/').pop() ?? model;
  let billions: number | null = null;
  const moe = /(?:^|[^a-z0-9.])(\d+)x(\d+(?:\.\d+)?)b(?![a-z])/i.exec(name);
  if (moe) billions = Number(moe[1]) * Number(moe[2]);
  else {
    const dense = /(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)([bm])(?![a-z])/i.exec(name);
    if (dense) billions = Number(dense[1]) / (dense[2]?.toLowerCase() === 'm' ? 1000 : 1);
  }
  if (billions === null || !(billions > 0)) return null;
  const precision = `${quantization ?? ''} ${name}`.toLowerCase();
  let bytesPerParameter = 2;
  if (/awq|gptq|int4|w4a16|4bit|bnb|nvfp4|mxfp4|gguf/.test(precision)) bytesPerParameter = 0.5;
  else if (/fp8|int8|w8a8|w8a16|8bit/.test(precision)) bytesPerParameter = 1;
  else if (dtype === 'float32' || dtype === 'float') bytesPerParameter = 4;
  return { billions, bytesPerParameter, gigabytes: Math.round(billions * bytesPerParameter * 10) / 10 };
}

/** Above this, downloading the weights into every pod's writable layer is slow and costly: use a cache volume. */
export const CACHE_ADVISED_GB = 10;
