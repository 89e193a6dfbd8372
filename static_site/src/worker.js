// All model work runs here, off the page's main thread: backend choice, downloads,
// onnxruntime-web sessions, sampling, classification.

import { fetchModelFiles, loadModelsJson, pickFile } from './models.js';
import { chooseThreads } from './threads.js';
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
async function startRuntime({ backend: wanted }) {
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
  ort.env.wasm.wasmPaths = VENDOR;
  ort.env.wasm.proxy = false; // already off the main thread
  const isolated = self.crossOriginIsolated === true;
  runtime = { backend, threads: 1, isolated, fallbackReason, version: ort.env.versions?.web || '', file };
}

/** Fix the WASM thread count (once: onnxruntime-web sizes its thread pool on the first session). */
async function setThreads(wantedThreads, generator) {
  const choice = await chooseThreads({
    isolated: runtime.isolated,
    wanted: wantedThreads,
    backend: runtime.backend,
    files: generator?.files,
    modelSha: generator?.entry.sha256,
    config: models?.config,
    baseUrl: models?.baseUrl,
    version: runtime.version,
  });
  ort.env.wasm.numThreads = choice.threads;
  const { file, ...shown } = runtime;
  runtime = { ...runtime, threads: choice.threads, threadChoice: choice };
  post({ type: 'runtime', ...shown, threads: choice.threads, threadChoice: choice });
}

async function fetchSection(section, precision) {
  const entry = pickFile(models.config, section, precision);
  const label = `${section} ${entry.precision}`;
  const t0 = performance.now();
  const files = await fetchModelFiles(entry, models.baseUrl, label, (p) => post({ type: 'progress', section, ...p }));
  return { section, entry, label, files, t0, downloadMs: performance.now() - t0 };
}

async function createSession({ section, entry, label, files, t0, downloadMs }) {
  const providers = runtime.backend === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'];
  let session;
  try {
    session = await ort.InferenceSession.create(files.bytes, {
      executionProviders: providers,
      graphOptimizationLevel: 'all',
      externalData: files.externalData,
    });
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
    size: files.size,
    externalFiles: files.externalData.length,
    downloadMs,
    loadMs: performance.now() - t0,
  });
}

async function loadSession(section, precision) {
  await createSession(await fetchSection(section, precision));
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
    // The interval belongs to the weights (measured for them at export), not to a page setting.
    guidanceInterval: g.defaults?.guidance_interval,
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
  try {
    models = await loadModelsJson(msg.modelsUrl);
  } catch (err) {
    await setThreads(msg.threads, null);
    throw err;
  }
  post({ type: 'models', config: models.config, baseUrl: models.baseUrl });
  // Load each model on its own: a broken classifier must not stop the generator. The thread
  // count is measured on the generator, so its files come first.
  let generator = null;
  let generatorError = null;
  try {
    generator = await fetchSection('generator', msg.precision?.generator);
  } catch (err) {
    generatorError = err;
  }
  await setThreads(msg.threads, generator);
  try {
    if (generatorError) throw generatorError;
    await createSession(generator);
  } catch (err) {
    post({ type: 'error', section: 'generator', message: err.message || String(err) });
  }
  try {
    await loadSession('classifier', msg.precision?.classifier);
  } catch (err) {
    post({ type: 'error', section: 'classifier', message: err.message || String(err) });
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
