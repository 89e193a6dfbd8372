// The page: controls, progress, previews and results. All model work happens in worker.js.

import { toRGBA } from './sampler.js';
import { checkImageSize, topK } from './preprocess.js';
import { LIMITS, SAMPLERS, checkedNumber, readHash, settingsFromHash, settingsToHash } from './settings.js';

const $ = (id) => document.getElementById(id);
// coi.js may be about to reload the page through its isolation service worker: start nothing.
if ((await (window.catsDitCoi || Promise.resolve('no'))) === 'reloading') {
  $('badge').textContent = 'enabling threads…';
  await new Promise(() => {});
}
const params = new URLSearchParams(location.search);
const modelsUrl = new URL(params.get('models') || './models/models.json', location.href).href;

const state = { config: null, ready: {}, busy: false, pendingAuto: null, lastImage: null, lastClassification: null, nextId: 1 };
// Read by the browser tests and the benchmark (window.catsDit).
window.catsDit = { state, modelsUrl, events: [] };

// ---- errors: always visible, never a blank page --------------------------------------------
function showError(where, message) {
  const box = document.createElement('div');
  box.className = 'error';
  box.dataset.section = where;
  const title = document.createElement('strong');
  title.textContent = `${where}:`;
  box.append(title, document.createTextNode(message));
  $('errors').append(box);
  window.catsDit.events.push({ type: 'error', where, message });
}
window.addEventListener('error', (e) => showError('page', e.message));
window.addEventListener('unhandledrejection', (e) => showError('page', e.reason?.message || String(e.reason)));

// ---- worker ---------------------------------------------------------------------------------
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
worker.onerror = (e) => showError('worker', `the model worker failed: ${e.message || 'could not start (see the console)'}`);

const hash = readHash(location.hash);
const requestedPrecision = { generator: hash.precision || params.get('precision') || undefined, classifier: params.get('classifier_precision') || undefined };
state.precisionFallback = {};
worker.postMessage({
  type: 'init',
  modelsUrl,
  backend: params.get('backend') || 'auto',
  threads: params.get('threads') ? Number(params.get('threads')) : null,
  precision: requestedPrecision,
});

const handlers = {
  runtime(msg) {
    const badge = $('badge');
    badge.dataset.backend = msg.backend;
    badge.dataset.threads = msg.threads;
    badge.dataset.isolated = msg.isolated;
    badge.dataset.fallback = msg.fallbackReason || '';
    badge.textContent = `${msg.backend === 'webgpu' ? 'WebGPU' : 'WASM'} · ${msg.threads} thread${msg.threads === 1 ? '' : 's'}`;
    const notes = [];
    if (msg.fallbackReason) notes.push(`WebGPU not used: ${msg.fallbackReason}, running on WASM`);
    notes.push(msg.isolated ? 'cross-origin isolated: WASM threads on' : 'not cross-origin isolated: one WASM thread');
    $('runtime-note').textContent = notes.join(' · ');
    badge.title = notes.join('\n');
    if (msg.version) $('version').textContent = `onnxruntime-web ${msg.version}.`;
    window.catsDit.runtime = msg;
  },
  models(msg) {
    state.config = msg.config;
    fillControls();
    // A precision this export lacks (from the link or ?precision=) would leave the model unloadable:
    // load the default instead, after the worker's failed attempt.
    for (const section of ['generator', 'classifier']) {
      const asked = requestedPrecision[section];
      const part = msg.config[section];
      if (asked && part && !part.files?.[asked]) {
        state.precisionFallback[section] = true;
        worker.postMessage({ type: 'load', section, precision: part.default_precision });
      }
    }
  },
  progress(msg) {
    const row = document.querySelector(`.progress-row[data-section="${msg.section}"]`);
    const bar = row.querySelector('progress');
    bar.max = msg.total || 1;
    bar.value = msg.loaded;
    const mb = (n) => (n / 1e6).toFixed(1);
    row.querySelector('.progress-text').textContent = msg.cached
      ? `${mb(msg.total)} MB from cache`
      : `${mb(msg.loaded)} of ${mb(msg.total)} MB`;
    row.dataset.cached = msg.cached;
  },
  ready(msg) {
    state.ready[msg.section] = msg;
    const row = document.querySelector(`.progress-row[data-section="${msg.section}"]`);
    row.querySelector('.progress-label').textContent = `${capital(msg.section)} ${msg.precision}`;
    row.dataset.state = 'ready';
    if (Object.keys(state.ready).length === 2) $('loading').classList.add('done');
    window.catsDit.events.push({ type: 'ready', ...msg });
    if (msg.section === 'generator') {
      $('gen-precision').value = msg.precision;
      setBusy(false);
      setStatus('gen-status', 'idle', `Ready: ${msg.name} (${(msg.size / 1e6).toFixed(1)} MB, ${msg.precision}).`);
      if (state.pendingAuto) {
        state.pendingAuto = null;
        startGenerate();
      } else if (state.linkProblems) {
        setStatus('gen-status', 'error', `The link has invalid settings (see above): ${state.linkProblems.join('; ')}. Fix them and press Generate.`);
      }
    } else {
      setStatus('classify-status', 'idle', 'Ready: drop or choose an image.');
    }
  },
  step(msg) {
    if (msg.preview) {
      drawImage(msg.preview, 0);
      window.catsDit.events.push({ type: 'preview', i: msg.i });
    }
    setStatus('gen-status', 'running', `Step ${msg.i + 1} of ${msg.n}`);
    $('gen-timing').textContent = `${msg.ms.toFixed(1)} ms this step`;
  },
  generated(msg) {
    const rgba = drawImage(msg.image, 0);
    const s = state.running;
    state.lastImage = { rgba: Array.from(rgba), floats: Array.from(msg.image), size: msg.size, settings: s, stepMs: msg.stepMs, totalMs: msg.totalMs };
    window.catsDit.lastImage = state.lastImage;
    state.running = null;
    setBusy(false);
    const mean = msg.stepMs.reduce((a, b) => a + b, 0) / msg.stepMs.length;
    setStatus('gen-status', 'done', `Done: ${state.config.display_names?.[s.breed] || state.config.labels[s.breed]}, seed ${s.seed}.`);
    $('gen-timing').textContent = `${msg.stepMs.length} model steps in ${(msg.totalMs / 1000).toFixed(2)} s · ${mean.toFixed(1)} ms per step`;
    $('gen-canvas').toBlob((blob) => {
      const a = $('download');
      if (a.href) URL.revokeObjectURL(a.href);
      a.href = URL.createObjectURL(blob);
      a.download = `cat-${state.config.labels[s.breed]}-seed${s.seed}-${s.steps}steps-${s.solver}.png`;
      a.setAttribute('aria-disabled', 'false');
    }, 'image/png');
    $('classify-this').disabled = !state.ready.classifier;
    $('copy-link').disabled = false;
  },
  cancelled() {
    state.running = null;
    setBusy(false);
    setStatus('gen-status', 'cancelled', 'Cancelled.');
  },
  classified(msg) {
    const probs = msg.probs;
    const top = topK(probs, 5);
    state.lastClassification = { probs, top, ms: msg.ms };
    window.catsDit.lastClassification = state.lastClassification;
    const list = $('classify-results');
    list.replaceChildren(
      ...top.map(({ index, prob }) => {
        const li = document.createElement('li');
        li.dataset.index = index;
        li.dataset.prob = prob;
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = displayName(index);
        const pct = document.createElement('span');
        pct.className = 'pct';
        pct.textContent = `${(prob * 100).toFixed(1)}%`;
        const bar = document.createElement('span');
        bar.className = 'bar';
        const fill = document.createElement('span');
        fill.style.width = `${(prob * 100).toFixed(1)}%`;
        bar.append(fill);
        li.append(name, pct, bar);
        return li;
      }),
    );
    setStatus('classify-status', 'done', `Top guess: ${displayName(top[0].index)} (${msg.ms.toFixed(0)} ms).`);
  },
  error(msg) {
    if (state.precisionFallback[msg.section]) {
      // the requested precision does not exist (already reported); the default is loading next
      state.precisionFallback[msg.section] = false;
      return;
    }
    const where = { generate: 'Generator', generator: 'Generator', classify: 'Classifier', classifier: 'Classifier' };
    showError(where[msg.section] || 'Models', msg.message);
    if (msg.section === 'generate' || msg.section === 'generator') {
      state.running = null;
      setStatus('gen-status', 'error', msg.section === 'generator' ? 'The generator could not be loaded (see above).' : 'Generation failed (see above).');
      $('cancel').disabled = true;
      $('generate').disabled = !state.ready.generator;
    } else if (msg.section === 'classify' || msg.section === 'classifier') {
      setStatus('classify-status', 'error', msg.section === 'classifier' ? 'The classifier could not be loaded (see above).' : 'Classification failed (see above).');
    } else {
      setStatus('gen-status', 'error', 'Could not start (see above).');
      setStatus('classify-status', 'error', 'Could not start (see above).');
    }
  },
};
worker.onmessage = (e) => handlers[e.data.type]?.(e.data);

// ---- controls -------------------------------------------------------------------------------
const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const displayName = (i) => state.config.display_names?.[i] || state.config.labels[i].replace(/_/g, ' ');

function setStatus(id, st, text) {
  $(id).dataset.state = st;
  $(id).textContent = text;
}

function setBusy(busy) {
  state.busy = busy;
  $('generate').disabled = busy || !state.ready.generator;
  $('cancel').disabled = !busy;
  $('gen-precision').disabled = busy;
}

function fillControls() {
  const c = state.config;
  const breed = $('breed');
  breed.replaceChildren(
    ...c.labels.map((label, i) => {
      const o = document.createElement('option');
      o.value = i;
      o.textContent = displayName(i);
      return o;
    }),
  );
  const prec = $('gen-precision');
  const files = c.generator.files || {};
  prec.replaceChildren(
    ...Object.keys(files).map((p) => {
      const o = document.createElement('option');
      o.value = p;
      const mb = (files[p].size / 1e6).toFixed(1);
      o.textContent = `${p} · ${mb} MB`;
      if (p === c.generator.default_precision) o.title = 'the default precision of this export';
      return o;
    }),
  );
  const d = c.generator.defaults || {};
  const h = readHash(location.hash);
  const { values: v, problems } = settingsFromHash(h, c);
  breed.value = v.breed ?? 0;
  $('steps').value = v.steps ?? d.num_inference_steps ?? 20;
  $('guidance').value = v.guidance ?? d.guidance_scale ?? 3.0;
  $('sampler').value = v.sampler ?? (SAMPLERS.includes(d.solver) ? d.solver : 'euler');
  $('seed').value = v.seed ?? Math.floor(Math.random() * 1e6);
  prec.value = v.precision ?? c.generator.default_precision;
  setStatus('gen-status', 'idle', 'Loading the generator…');
  if (problems.length) {
    // Never guess: generate nothing until the user has looked at the form and pressed Generate.
    for (const p of problems) showError('Link', p);
    state.linkProblems = problems;
    return;
  }
  if (h.seed !== undefined) state.pendingAuto = true; // a shared link regenerates its image
}

function readSettings() {
  const breed = Number($('breed').value);
  const solver = $('sampler').value;
  const values = {};
  const problems = [];
  for (const field of Object.keys(LIMITS)) {
    try {
      values[field] = checkedNumber(field, $(field).value);
    } catch (err) {
      problems.push(err.message);
    }
  }
  if (problems.length) throw new Error(problems.join('; '));
  state.linkProblems = null;
  return { breed, ...values, solver, precision: $('gen-precision').value };
}

function startGenerate() {
  let s;
  try {
    s = readSettings();
  } catch (err) {
    setStatus('gen-status', 'error', err.message);
    return;
  }
  history.replaceState(null, '', settingsToHash(s, state.config.labels));
  state.running = s;
  setBusy(true);
  $('classify-this').disabled = true;
  setStatus('gen-status', 'running', 'Starting…');
  const calls = s.solver === 'heun' ? 2 * s.steps - 1 : s.steps;
  worker.postMessage({ type: 'generate', id: state.nextId++, ...s, previewEvery: Math.max(1, Math.floor(calls / 8)) });
}

/** Draw a [1,3,H,W] float image in [0,1] on the canvas; returns its RGBA bytes. */
function drawImage(floats, index) {
  const size = state.config.generator.sample_size;
  const canvas = $('gen-canvas');
  canvas.width = canvas.height = size;
  const rgba = toRGBA(floats, index, size);
  canvas.getContext('2d').putImageData(new ImageData(rgba, size, size), 0, 0);
  return rgba;
}

$('gen-form').addEventListener('submit', (e) => {
  e.preventDefault();
  startGenerate();
});
$('cancel').addEventListener('click', () => worker.postMessage({ type: 'cancel' }));
$('randomize').addEventListener('click', () => {
  $('seed').value = crypto.getRandomValues(new Uint32Array(1))[0];
});
$('gen-precision').addEventListener('change', () => {
  state.ready.generator = null;
  delete state.ready.generator;
  setBusy(false);
  $('loading').classList.remove('done');
  setStatus('gen-status', 'loading', `Loading the ${$('gen-precision').value} generator…`);
  worker.postMessage({ type: 'load', section: 'generator', precision: $('gen-precision').value });
});
$('copy-link').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(location.href);
    $('copy-link').textContent = 'Link copied';
  } catch {
    prompt('Copy this link:', location.href);
  }
  setTimeout(() => ($('copy-link').textContent = 'Copy link'), 1500);
});

// ---- classify -------------------------------------------------------------------------------
function classifyRGBA(rgba, width, height) {
  if (!state.ready.classifier) {
    setStatus('classify-status', 'error', 'The classifier is not loaded.');
    return;
  }
  setStatus('classify-status', 'running', 'Classifying…');
  const copy = new Uint8ClampedArray(rgba);
  worker.postMessage({ type: 'classify', id: state.nextId++, rgba: copy, width, height }, [copy.buffer]);
}

/** Decode a file at its natural size, without colour conversion or premultiplied alpha. */
async function decodeImage(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  bitmap.close();
  return { rgba: data, width: canvas.width, height: canvas.height };
}

/** Width and height of an image file without decoding its pixels. */
async function naturalSize(blob) {
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error('the browser cannot read it as an image'));
      img.src = url;
    });
    return { width: img.naturalWidth, height: img.naturalHeight };
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function classifyFile(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith('image/')) {
    setStatus('classify-status', 'error', `${file.name} is not an image (${file.type}).`);
    return;
  }
  try {
    // Size from the header only (an image element that is never drawn): refuse before decoding.
    const size = await naturalSize(file);
    checkImageSize(size.width, size.height);
  } catch (err) {
    setStatus('classify-status', 'error', `${file.name}: ${err.message}`);
    return;
  }
  const preview = $('classify-preview');
  if (preview.src.startsWith('blob:')) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.classList.remove('pixelated');
  preview.hidden = false;
  try {
    const { rgba, width, height } = await decodeImage(file);
    classifyRGBA(rgba, width, height);
  } catch (err) {
    setStatus('classify-status', 'error', `Could not read ${file.name} as an image: ${err.message}`);
  }
}

$('file').addEventListener('change', (e) => classifyFile(e.target.files[0]));
const zone = $('dropzone');
zone.addEventListener('dragover', (e) => {
  e.preventDefault();
  zone.classList.add('over');
});
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', (e) => {
  e.preventDefault();
  zone.classList.remove('over');
  classifyFile(e.dataTransfer.files[0]);
});
$('classify-this').addEventListener('click', () => {
  const img = state.lastImage;
  if (!img) return;
  const preview = $('classify-preview');
  preview.src = $('gen-canvas').toDataURL('image/png');
  preview.classList.add('pixelated');
  preview.hidden = false;
  classifyRGBA(Uint8ClampedArray.from(img.rgba), img.size, img.size);
  $('classify-card').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
});

