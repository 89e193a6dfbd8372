// All model work runs here, off the page's main thread: backend choice, downloads,
// onnxruntime-web sessions, sampling, classification.

import { fetchModel, loadModelsJson, pickFile } from './models.js';
import { CancelledError, generate } from './sampler.js';
import { preprocessTensor, rgbaToTensor, softmax } from './preprocess.js';

const VENDOR = new URL('../vendor/', import.meta.url).href;
let ort = null;
let runtime = null; // {backend, threads, isolated, fallbackReason}
let models = null; // {config, baseUrl}
const sessions = {}; // section -> {session, entry}
let cancelRequested = false;

const post = (msg, transfer = []) => self.postMessage(msg, transfer);

/** WebGPU when an adapter exists (loading only that build), else the smaller WASM build. */
async function startRuntime({ backend: wanted, threads: wantedThreads }) {
  let fallbackReason = null;
  if (wanted === 'wasm') {
    fallbackReason = 'WASM requested';
  } else if (!('gpu' in navigator)) {
    fallbackReason = 'this browser has no WebGPU';
  } else {
    try {
      const adapter = await navigator.gpu.requestAdapter();
      if (!adapter) fallbackReason = 'no WebGPU adapter';
    } catch (err) {
      fallbackReason = `WebGPU adapter request failed (${err.message})`;
    }
  }
  const backend = fallbackReason ? 'wasm' : 'webgpu';
  const file = backend === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs';
  try {
    ort = await import(`${VENDOR}${file}`);
  } catch (err) {
    throw new Error(
      `onnxruntime-web is missing (${VENDOR}${file}: ${err.message}). Build the page first: ` +
        'cd static_site && npm ci && npm run build (or python -m static_site.build)',
    );
  }
  const isolated = self.crossOriginIsolated === true;
  let threads = isolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  if (wantedThreads && isolated) threads = Math.max(1, Math.min(threads, Number(wantedThreads)));
  ort.env.wasm.wasmPaths = VENDOR;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false; // already off the main thread
  runtime = { backend, threads, isolated, fallbackReason, version: ort.env.versions?.web || '' };
  post({ type: 'runtime', ...runtime });
}

async function loadSession(section, precision) {
  const entry = pickFile(models.config, section, precision);
  const label = `${section} ${entry.precision}`;
  const t0 = performance.now();
  const bytes = await fetchModel(entry, models.baseUrl, label, (p) => post({ type: 'progress', section, ...p }));
  const downloadMs = performance.now() - t0;
  const providers = runtime.backend === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'];
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: providers, graphOptimizationLevel: 'all' });
  } catch (err) {
    throw new Error(`${label}: onnxruntime-web could not load ${entry.name}: ${err.message || err}`);
  }
  if (sessions[section]) await sessions[section].session.release?.();
  sessions[section] = { session, entry };
  post({
    type: 'ready',
    section,
    precision: entry.precision,
    name: entry.name,
    size: entry.size,
    downloadMs,
    loadMs: performance.now() - t0,
  });
}

async function runGenerator(sample, timesteps, labels, batch) {
  const g = models.config.generator;
  const { session } = sessions.generator;
  const hw = g.sample_size;
  const feeds = {
    sample: new ort.Tensor('float32', sample, [batch, g.in_channels, hw, hw]),
    timestep: new ort.Tensor('float32', timesteps, [batch]),
    class_labels: new ort.Tensor('int64', labels, [batch]),
  };
  const out = await session.run(feeds);
  const tensor = out.out_sample || out[session.outputNames[0]];
  return tensor.data;
}

async function onGenerate(msg) {
  if (!sessions.generator) throw new Error('the generator is not loaded');
  const g = models.config.generator;
  cancelRequested = false;
  const previewEvery = Math.max(1, msg.previewEvery || 1);
  const result = await generate({
    runModel: runGenerator,
    classIds: [msg.breed],
    nullClassId: models.config.null_class_id ?? g.num_classes,
    seed: msg.seed,
    channels: g.in_channels,
    size: g.sample_size,
    steps: msg.steps,
    guidance: msg.guidance,
    solver: msg.solver,
    schedulerConfig: g.scheduler,
    isCancelled: () => cancelRequested,
    onStep: ({ i, n, ms, preview }) => {
      const last = i === n - 1;
      const image = !last && (i + 1) % previewEvery === 0 ? preview() : null;
      post({ type: 'step', id: msg.id, i, n, ms, preview: image }, image ? [image.buffer] : []);
    },
  });
  post(
    { type: 'generated', id: msg.id, image: result.images, stepMs: result.stepMs, totalMs: result.totalMs, size: g.sample_size },
    [result.images.buffer],
  );
}

async function onClassify(msg) {
  if (!sessions.classifier) throw new Error('the classifier is not loaded');
  const cfg = models.config.classifier.preprocess;
  const t0 = performance.now();
  const x = rgbaToTensor(msg.rgba, msg.width, msg.height);
  const pixels = preprocessTensor(x, msg.height, msg.width, cfg);
  const S = cfg.image_size;
  const { session } = sessions.classifier;
  const out = await session.run({ pixel_values: new ort.Tensor('float32', pixels, [1, 3, S, S]) });
  const logits = (out.logits || out[session.outputNames[0]]).data;
  post({ type: 'classified', id: msg.id, probs: softmax(logits), ms: performance.now() - t0 });
}

async function onInit(msg) {
  await startRuntime(msg);
  models = await loadModelsJson(msg.modelsUrl);
  post({ type: 'models', config: models.config, baseUrl: models.baseUrl });
  // Load each model on its own: a broken classifier must not stop the generator.
  for (const section of ['generator', 'classifier']) {
    try {
      await loadSession(section, msg.precision?.[section]);
    } catch (err) {
      post({ type: 'error', section, message: err.message || String(err) });
    }
  }
}

// Model work runs one request at a time (onnxruntime-web sessions share one WASM instance);
// only "cancel" jumps the queue.
let queue = Promise.resolve();
self.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === 'cancel') {
    cancelRequested = true;
    return;
  }
  queue = queue.then(() => handle(msg));
};

async function handle(msg) {
  try {
    if (msg.type === 'init') await onInit(msg);
    else if (msg.type === 'load') await loadSession(msg.section, msg.precision);
    else if (msg.type === 'generate') await onGenerate(msg);
    else if (msg.type === 'classify') await onClassify(msg);
  } catch (err) {
    if (err instanceof CancelledError) post({ type: 'cancelled', id: msg.id });
    else post({ type: 'error', section: msg.section || msg.type, id: msg.id, message: err.message || String(err) });
  }
}
