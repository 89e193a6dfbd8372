// Seeded Gaussian noise: the cross-language contract of cats_dit/pipeline_cats_dit.py.
// splitmix32 seeds xoshiro128**; uint32 pairs (a, b) become u = (a + 0.5) / 2^32,
// v = (b + 0.5) / 2^32; Box-Muller in float64; row-major CHW; cast to float32.
// Only 32-bit integer arithmetic (Math.imul, >>> 0), so JS and Python agree bit for bit.

const TWO_POW_32 = 4294967296;

/** One splitmix32 step: returns [newState, output] as uint32. */
export function splitmix32(state) {
  state = (state + 0x9e3779b9) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [state, (z ^ (z >>> 16)) >>> 0];
}

/** `count` uint32 outputs of xoshiro128** seeded by splitmix32(seed). */
export function xoshiro128ss(seed, count) {
  let state = seed >>> 0;
  const s = [];
  for (let k = 0; k < 4; k++) {
    let z;
    [state, z] = splitmix32(state);
    s.push(z);
  }
  let [s0, s1, s2, s3] = s;
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const r = Math.imul(s1, 5) >>> 0;
    const rot = ((r << 7) | (r >>> 25)) >>> 0;
    out[i] = Math.imul(rot, 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 = (s2 ^ s0) >>> 0;
    s3 = (s3 ^ s1) >>> 0;
    s1 = (s1 ^ s2) >>> 0;
    s0 = (s0 ^ s3) >>> 0;
    s2 = (s2 ^ t) >>> 0;
    s3 = ((s3 << 11) | (s3 >>> 21)) >>> 0;
  }
  return out;
}

/** Float32Array of `n` standard normals from `seed` (uint32). */
export function seededNormal(seed, n) {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in 0..4294967295, got ${seed}`);
  }
  const raw = xoshiro128ss(seed, n + (n & 1));
  const out = new Float32Array(n);
  for (let i = 0; i < raw.length; i += 2) {
    const u = (raw[i] + 0.5) / TWO_POW_32;
    const v = (raw[i + 1] + 0.5) / TWO_POW_32;
    const r = Math.sqrt(-2.0 * Math.log(u));
    const angle = 2.0 * Math.PI * v;
    out[i] = r * Math.cos(angle);
    if (i + 1 < n) out[i + 1] = r * Math.sin(angle);
  }
  return out;
}

/** [seeds.length, C, H, W] noise, flattened: image k uses seeds[k]. */
export function seededNoise(seeds, channels, height, width) {
  const per = channels * height * width;
  const out = new Float32Array(seeds.length * per);
  seeds.forEach((s, k) => out.set(seededNormal(s, per), k * per));
  return out;
}

/** Seeds of a call with seed S and `count` images: (S + k) mod 2^32. */
export function imageSeeds(seed, count) {
  return Array.from({ length: count }, (_, k) => (seed + k) % TWO_POW_32);
}
