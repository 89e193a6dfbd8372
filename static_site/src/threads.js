// The WASM thread count, chosen by measurement: more threads are not always faster (on a
// small model the thread pool's overhead can cost more than it saves). On first load each
// candidate count runs a few generator steps in its own short-lived worker (a WASM instance's
// thread pool is fixed once created); the winner is kept in the Cache API per model and core
// count, so later visits start at once.

import { CACHE_NAME } from './models.js';

const PROBE = new URL('./probe.js', import.meta.url).href;
const VENDOR = new URL('../vendor/', import.meta.url).href;
// A larger count must beat the best smaller one by this much: ties go to fewer threads.
const MIN_GAIN = 0.05;

/** 1, 2, 4 ... up to min(4, cores). */
export function candidateThreads(cores) {
  const max = Math.max(1, Math.min(4, cores || 1));
  const out = [];
  for (let n = 1; n <= max; n *= 2) out.push(n);
  if (out[out.length - 1] !== max) out.push(max);
  return out;
}

/** The fastest count of `timings` ({threads: ms}), preferring fewer threads within MIN_GAIN. */
export function pickFastest(timings) {
  let best = null;
  for (const n of Object.keys(timings).map(Number).sort((a, b) => a - b)) {
    if (best === null || timings[n] < timings[best] * (1 - MIN_GAIN)) best = n;
  }
  return best;
}

function probeOnce(threads, files, generator, nullClassId) {
  return new Promise((resolve, reject) => {
    const w = new Worker(PROBE, { type: 'module' });
    w.onmessage = (e) => {
      w.terminate();
      if (e.data.error) reject(new Error(e.data.error));
      else resolve(e.data.ms);
    };
    w.onerror = (e) => {
      w.terminate();
      reject(new Error(e.message || 'the probe worker failed to start'));
    };
    w.postMessage({ vendor: VENDOR, threads, bytes: files.bytes, externalData: files.externalData, generator, nullClassId });
  });
}

function cacheKey(baseUrl, sha, cores, version) {
  const u = new URL('thread-choice.json', baseUrl);
  u.searchParams.set('sha256', sha);
  u.searchParams.set('cores', String(cores));
  u.searchParams.set('ort', version);
  return u.href;
}

/**
 * {threads, how, timings?}: `how` is "not cross-origin isolated", "requested", "webgpu",
 * "measured", "cached" or "probe failed: ...".
 */
export async function chooseThreads({ isolated, wanted, backend, files, modelSha, config, baseUrl, version }) {
  const cores = navigator.hardwareConcurrency || 1;
  const max = Math.min(4, cores);
  if (!isolated) return { threads: 1, how: 'not cross-origin isolated' };
  if (wanted) return { threads: Math.max(1, Math.min(max, Number(wanted))), how: 'requested' };
  // WebGPU runs the model on the GPU; WASM threads only serve the few CPU-side ops.
  if (backend !== 'wasm' || !files || !config) return { threads: max, how: backend !== 'wasm' ? 'webgpu' : 'default' };
  const candidates = candidateThreads(cores);
  if (candidates.length === 1) return { threads: 1, how: 'one core' };
  const key = cacheKey(baseUrl, modelSha, cores, version);
  let cache = null;
  try {
    cache = typeof caches !== 'undefined' ? await caches.open(CACHE_NAME) : null;
    const hit = cache && (await cache.match(key));
    if (hit) {
      const saved = await hit.json();
      if (candidates.includes(saved.threads)) return { ...saved, how: 'cached' };
    }
  } catch {
    cache = null; // storage disabled: measure every time
  }
  const timings = {};
  try {
    for (const n of candidates) timings[n] = await probeOnce(n, files, config.generator, config.null_class_id);
  } catch (err) {
    return { threads: max, how: `probe failed: ${err.message}` };
  }
  const choice = { threads: pickFastest(timings), how: 'measured', timings };
  try {
    await cache?.put(key, new Response(JSON.stringify(choice), { headers: { 'Content-Type': 'application/json' } }));
  } catch {
    // quota: measure again next time
  }
  return choice;
}
