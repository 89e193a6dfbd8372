// The page's settings: their limits, the URL-hash format of a shared link, and breed names.
// Pure functions (no DOM), so node tests check them against the Python rules.

export const MAX_SEED = 4294967295;
// field: [lowest, highest, whole numbers only]
export const LIMITS = { steps: [1, 500, true], guidance: [0, 30, false], seed: [0, MAX_SEED, true] };
export const SAMPLERS = ['euler', 'heun'];

/** The settings in a location hash ("#breed=...&steps=...") as a plain object of strings. */
export function readHash(hash) {
  return Object.fromEntries(new URLSearchParams(String(hash || '').replace(/^#/, '')).entries());
}

export function settingsToHash(s, labels) {
  const h = new URLSearchParams({ breed: labels[s.breed], steps: s.steps, guidance: s.guidance, sampler: s.solver, seed: s.seed, precision: s.precision });
  return `#${h.toString()}`;
}

/** A number typed or linked as text: empty or non-numeric text is NaN, never 0. */
export function strictNumber(raw) {
  return String(raw ?? '').trim() === '' ? NaN : Number(raw);
}

/** The value of a numeric setting, or throws an Error naming the field and its range. */
export function checkedNumber(field, raw) {
  const [lo, hi, whole] = LIMITS[field];
  const n = strictNumber(raw);
  const ok = whole ? Number.isInteger(n) : Number.isFinite(n);
  if (!ok || n < lo || n > hi) throw new Error(`${field} must be ${whole ? 'a whole number' : 'a number'} from ${lo} to ${hi}, got "${raw}"`);
  return n;
}

/** Mirror of cats_dit.breeds.normalise_name: case, spaces, hyphens and underscores do not matter. */
export function normaliseName(name) {
  return String(name).trim().toLowerCase().replaceAll(' ', '_').replaceAll('-', '_');
}

/** Mirror of cats_dit.breeds.to_id: a label or display name in any spelling, or a whole-number
 * id; null where Python raises. */
export function breedFromName(name, labels, displayNames = []) {
  if (name === undefined || name === null) return null;
  const key = normaliseName(name);
  for (const names of [labels, displayNames]) {
    const i = names.findIndex((l) => normaliseName(l) === key);
    if (i >= 0) return i;
  }
  if (!/^[0-9]+$/.test(key)) return null;
  const n = Number(key);
  return n < labels.length ? n : null;
}

/** Checked settings from a shared link: {values, problems}; each problem names its field. */
export function settingsFromHash(h, config) {
  const values = {};
  const problems = [];
  const labels = config.labels;
  if (h.breed !== undefined) {
    const b = breedFromName(h.breed, labels, config.display_names || []);
    if (b === null) problems.push(`breed "${h.breed}" is not one of the ${labels.length} breeds (a name such as ${labels[0]}, or a number from 0 to ${labels.length - 1})`);
    else values.breed = b;
  }
  for (const field of Object.keys(LIMITS)) {
    if (h[field] === undefined) continue;
    try {
      values[field] = checkedNumber(field, h[field]);
    } catch (err) {
      problems.push(err.message);
    }
  }
  if (h.sampler !== undefined) {
    if (SAMPLERS.includes(h.sampler)) values.sampler = h.sampler;
    else problems.push(`sampler must be one of ${SAMPLERS.join(', ')}, got "${h.sampler}"`);
  }
  const files = config.generator.files || {};
  if (h.precision !== undefined) {
    if (files[h.precision]) values.precision = h.precision;
    else problems.push(`precision "${h.precision}" is not one of ${Object.keys(files).join(', ')}; using ${config.generator.default_precision}`);
  }
  return { values, problems };
}
