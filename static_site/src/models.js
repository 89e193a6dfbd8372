// models.json and the ONNX files (and their external data files): download with progress,
// verify size and sha256, keep in the Cache API (keyed by sha256, so a re-export is downloaded
// again and a stale copy is dropped).

export const CACHE_NAME = 'cats-dit-models-v1';

export class ModelError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModelError';
  }
}

const MB = (n) => (n / 1e6).toFixed(1);

/** Fetch and check models.json; returns {config, baseUrl}. */
export async function loadModelsJson(url) {
  let response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch (err) {
    throw new ModelError(`Could not fetch models.json from ${url}: ${err.message}`);
  }
  if (!response.ok) {
    throw new ModelError(
      `models.json is missing at ${url} (HTTP ${response.status}). Export the models first: ` +
        'python -m export --pipeline weights/pipeline --classifier weights/classifier --output static_site/models',
    );
  }
  let config;
  try {
    config = await response.json();
  } catch (err) {
    throw new ModelError(`models.json at ${url} is not valid JSON: ${err.message}`);
  }
  if (config.format_version !== 1) {
    throw new ModelError(`models.json format_version is ${config.format_version}; this page reads format_version 1`);
  }
  for (const key of ['labels', 'generator', 'classifier']) {
    if (!config[key]) throw new ModelError(`models.json has no "${key}" entry`);
  }
  return { config, baseUrl: new URL(url, self.location.href).href };
}

/** The file entry of `section` ("generator" | "classifier") for `precision` (or its default). */
export function pickFile(config, section, precision) {
  const part = config[section];
  const files = part.files || {};
  const chosen = precision || part.default_precision || Object.keys(files)[0];
  const entry = files[chosen];
  if (!entry) {
    throw new ModelError(
      `models.json has no ${section} file for precision "${chosen}" (available: ${Object.keys(files).join(', ') || 'none'})`,
    );
  }
  for (const key of ['name', 'size', 'sha256']) {
    if (entry[key] === undefined) throw new ModelError(`models.json: ${section} ${chosen} entry has no "${key}"`);
  }
  const external = entry.external_data || [];
  if (!Array.isArray(external)) throw new ModelError(`models.json: ${section} ${chosen} "external_data" is not a list`);
  external.forEach((item, i) => {
    for (const key of ['name', 'size', 'sha256']) {
      if (item?.[key] === undefined) {
        throw new ModelError(`models.json: ${section} ${chosen} external_data[${i}] has no "${key}"`);
      }
    }
  });
  return { ...entry, external_data: external, precision: chosen };
}

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function openCache() {
  try {
    return typeof caches !== 'undefined' ? await caches.open(CACHE_NAME) : null;
  } catch {
    return null; // e.g. storage disabled: work without a cache
  }
}

function cacheKey(url, sha) {
  const u = new URL(url);
  u.searchParams.set('sha256', sha);
  return u.href;
}

async function readWithProgress(response, expected, onProgress) {
  const total = Number(response.headers.get('Content-Length')) || expected;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress({ loaded, total, cached: false });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  return bytes;
}

/**
 * The verified bytes of one model file. `entry` comes from pickFile; `label` names it in
 * errors ("generator fp32"). onProgress({loaded, total, cached}).
 */
export async function fetchModel(entry, baseUrl, label, onProgress = () => {}) {
  const url = new URL(entry.name, baseUrl).href;
  const sha = String(entry.sha256).toLowerCase();
  const key = cacheKey(url, sha);
  const cache = await openCache();
  if (cache) {
    const hit = await cache.match(key);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if (bytes.length === entry.size && (await sha256Hex(bytes)) === sha) {
        onProgress({ loaded: bytes.length, total: bytes.length, cached: true });
        return bytes;
      }
      await cache.delete(key); // damaged cache entry: download again
    }
  }
  let response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch (err) {
    throw new ModelError(`${label}: could not download ${entry.name} (${err.message})`);
  }
  if (!response.ok) {
    throw new ModelError(`${label}: ${entry.name} is missing on the server (HTTP ${response.status} for ${url})`);
  }
  const bytes = await readWithProgress(response, entry.size, onProgress);
  if (bytes.length !== entry.size) {
    const what = bytes.length < entry.size ? 'truncated' : 'larger than expected';
    throw new ModelError(
      `${label}: ${entry.name} is ${what}: got ${MB(bytes.length)} MB (${bytes.length} bytes), ` +
        `models.json says ${entry.size} bytes`,
    );
  }
  const actual = await sha256Hex(bytes);
  if (actual !== sha) {
    throw new ModelError(
      `${label}: ${entry.name} failed its sha256 check (expected ${sha.slice(0, 12)}…, got ${actual.slice(0, 12)}…). ` +
        'The file is corrupt or models.json is stale: re-run the export.',
    );
  }
  if (cache) {
    try {
      for (const old of await cache.keys()) {
        const u = new URL(old.url);
        u.searchParams.delete('sha256');
        if (u.href === url) await cache.delete(old);
      }
      await cache.put(key, new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream' } }));
    } catch (err) {
      console.warn(`could not cache ${entry.name}: ${err.message}`); // quota: still usable
    }
  }
  return bytes;
}

/**
 * The verified bytes of a model and of each of its external data files, as
 * {bytes, externalData: [{path, data}], size} (onnxruntime-web's `externalData` session option:
 * `path` is the location the .onnx file names). One progress stream over all files.
 */
export async function fetchModelFiles(entry, baseUrl, label, onProgress = () => {}) {
  const parts = [entry, ...(entry.external_data || [])];
  const total = parts.reduce((sum, p) => sum + p.size, 0);
  let done = 0;
  let allCached = true;
  const out = [];
  for (const part of parts) {
    const bytes = await fetchModel(part, baseUrl, label, (p) => {
      allCached = allCached && p.cached;
      onProgress({ loaded: done + p.loaded, total, cached: allCached && done + p.loaded === total });
    });
    done += bytes.length;
    out.push(bytes);
  }
  const [bytes, ...extra] = out;
  return { bytes, externalData: extra.map((data, i) => ({ path: parts[i + 1].name, data })), size: total };
}
