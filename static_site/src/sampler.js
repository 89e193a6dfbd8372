// The sampling loop of CatsDiTPipeline / OnnxCatsDiTPipeline, independent of the runtime:
// `runModel(sample, timesteps, classLabels, batch)` does one forward pass (onnxruntime-web
// in the worker, anything in tests) and returns the model output as a Float32Array.

import { imageSeeds, seededNoise } from './noise.js';
import { FlowMatchScheduler, combineGuidance } from './scheduler.js';

const f32 = Math.fround;

/** Yield to the event loop so messages (cancel) are handled between steps. */
export function yieldToEventLoop() {
  if (typeof MessageChannel === 'undefined') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(0);
  });
}

export class CancelledError extends Error {
  constructor() {
    super('generation cancelled');
    this.name = 'CancelledError';
  }
}

/**
 * Generate images. Returns {images: Float32Array [B,3,H,W] in [0,1], stepMs: number[], totalMs}.
 * opts: runModel, classIds (array of ints), nullClassId, seed, channels, size, steps, guidance,
 * guidanceInterval ([low, high] noise levels where guidance applies; default [0, 1]: every step),
 * solver, schedulerConfig (models.json "scheduler"), onStep({i, n, ms, x0}), isCancelled().
 */
export async function generate(opts) {
  const { runModel, classIds, nullClassId, seed, channels, size, steps, guidance, solver } = opts;
  const [low, high] = checkGuidanceInterval(opts.guidanceInterval);
  const B = classIds.length;
  const per = channels * size * size;
  const scheduler = new FlowMatchScheduler({ ...(opts.schedulerConfig || {}), solver });
  scheduler.setTimesteps(steps);
  const T = scheduler.config.num_train_timesteps;
  const doCfg = guidance !== 1.0;
  const condLabels = BigInt64Array.from(classIds, (x) => BigInt(x));
  const cfgLabels = BigInt64Array.from([...classIds, ...classIds.map(() => nullClassId)], (x) => BigInt(x));

  let x = seededNoise(imageSeeds(seed, B), channels, size, size);
  const stepMs = [];
  const t0 = performance.now();
  for (let i = 0; i < scheduler.timesteps.length; i++) {
    if (opts.isCancelled && opts.isCancelled()) throw new CancelledError();
    const ts = performance.now();
    const t = scheduler.timesteps[i];
    // The pipelines' test in the same float64 arithmetic: low <= t / T <= high.
    const guided = doCfg && low <= t / T && t / T <= high;
    let modelIn = x;
    if (guided) {
      modelIn = new Float32Array(2 * x.length);
      modelIn.set(x, 0);
      modelIn.set(x, x.length);
    }
    const batch = guided ? 2 * B : B;
    const tIn = new Float32Array(batch).fill(t);
    const out = await runModel(modelIn, tIn, guided ? cfgLabels : condLabels, batch);
    const modelOutput = guided ? combineGuidance(out.subarray(0, B * per), out.subarray(B * per), guidance) : out;
    const xBefore = x;
    x = scheduler.step(modelOutput, x);
    stepMs.push(performance.now() - ts);
    if (opts.onStep) {
      const sigma = scheduler.sigmas[i];
      const preview = () => previewImage(xBefore, scheduler.toVelocity(modelOutput, xBefore, sigma), sigma);
      opts.onStep({ i, n: scheduler.timesteps.length, ms: stepMs[i], preview });
    }
    await yieldToEventLoop();
  }
  return { images: toUnitRange(x), stepMs, totalMs: performance.now() - t0 };
}

/** [low, high] with 0 <= low <= high <= 1 (undefined/null: [0, 1]), as the Python pipelines check it. */
export function checkGuidanceInterval(interval) {
  if (interval === undefined || interval === null) return [0, 1];
  const ok = Array.isArray(interval) && interval.length === 2 && interval.every((v) => typeof v === 'number');
  if (!ok) throw new Error(`guidance_interval must be two numbers [low, high], got ${JSON.stringify(interval)}`);
  const [low, high] = interval;
  if (!(low >= 0 && low <= high && high <= 1)) {
    throw new Error(`guidance_interval must satisfy 0 <= low <= high <= 1, got [${low}, ${high}]`);
  }
  return [low, high];
}

/** (clamp(x, -1, 1) + 1) / 2 in float32, like the pipelines' output. */
export function toUnitRange(x) {
  const out = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) out[j] = f32(Math.min(Math.max(x[j], -1), 1) + 1) / 2;
  return out;
}

/** x0 estimate x - sigma * v mapped to [0, 1]: what the preview shows mid-sampling. */
export function previewImage(x, velocity, sigma) {
  const s = f32(sigma);
  const x0 = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) x0[j] = x[j] - s * velocity[j];
  return toUnitRange(x0);
}

/** numpy's round (half to even), as in diffusers' numpy_to_pil. */
export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** One image of a [B,3,H,W] float32 batch in [0,1] -> RGBA uint8 (numpy_to_pil's rounding). */
export function toRGBA(images, index, size) {
  const per = size * size;
  const base = index * 3 * per;
  const rgba = new Uint8ClampedArray(per * 4);
  for (let p = 0; p < per; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = roundHalfEven(f32(images[base + c * per + p] * 255));
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}
