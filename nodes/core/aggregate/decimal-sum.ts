/**
 * The exact decimal sum behind core.aggregate's sum and avg. A value is read as the shortest decimal
 * that names it (0.1 is 1/10, not the double 0.1000000000000000055...), and the sum is kept as an
 * integer count of 10^-scale units (a safe integer while it fits, a BigInt after). Adding and
 * retracting 0.1, 0.2, 0.3 in any order leaves exactly 0 — no drift, whatever the number of
 * retractions. The output is that decimal, rounded once to a double.
 */
const SAFE = Number.MAX_SAFE_INTEGER;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i); // exact doubles up to 1e22
const NUMBER_TEXT = /^(-?)(\d+)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

type Int = number | bigint;

// decompose() answers here rather than in a new tuple: it runs for every value summed
let units: Int = 0;
let scale = 0;

/** x as units × 10^-scale (into `units`, `scale`): x is the double nearest to that decimal, scale as small as can be */
function decompose(x: number): void {
  if (Number.isInteger(x)) {
    units = Number.isSafeInteger(x) ? x : BigInt(x);
    scale = 0;
    return;
  }
  for (let k = 1; k <= 17; k++) {
    const r = Math.round(x * POW10[k]);
    if (Math.abs(r) > SAFE) break;
    // r and 10^k are exact, so r / 10^k is correctly rounded: equal to x means x names that decimal
    if (r / POW10[k] === x) {
      units = r;
      scale = k;
      return;
    }
  }
  // the shortest round-trip text, e.g. "1.5e-7" or "123456789012.34567"
  const m = NUMBER_TEXT.exec(String(x))!;
  const frac = m[3] ?? '';
  let digits = BigInt(`${m[1]}${m[2]}${frac}`);
  let k = frac.length - Number(m[4] ?? 0);
  if (k < 0) {
    digits *= 10n ** BigInt(-k);
    k = 0;
  }
  units = toInt(digits);
  scale = k;
}

function toInt(b: bigint): Int {
  return b >= -BigInt(SAFE) && b <= BigInt(SAFE) ? Number(b) : b;
}

function scaleUp(a: Int, by: number): Int {
  if (by === 0) return a;
  if (typeof a === 'number' && by < POW10.length) {
    const m = a * POW10[by];
    if (Math.abs(m) <= SAFE) return m; // both factors exact and the product fits: exact
  }
  return BigInt(a) * 10n ** BigInt(by);
}

function negate(a: Int): Int {
  return typeof a === 'number' ? -a : -a;
}

function addInt(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') {
    const c = a + b;
    if (Math.abs(c) <= SAFE) return c; // a true sum above 2^53 would round to at least 2^53
  }
  return toInt(BigInt(a) + BigInt(b));
}

export class DecimalSum {
  units: Int = 0;
  scale = 0;
  /** non-null values in the sum */
  n = 0;

  add(x: number, sign: 1 | -1): void {
    decompose(x);
    let r = units;
    const k = scale;
    if (k > this.scale) {
      this.units = scaleUp(this.units, k - this.scale);
      this.scale = k;
    } else if (k < this.scale) r = scaleUp(r, this.scale - k);
    this.units = addInt(this.units, sign > 0 ? r : negate(r));
    this.n += sign;
  }

  value(): number {
    if (typeof this.units === 'number' && this.scale < POW10.length) return this.units / POW10[this.scale];
    return Number(`${this.units}e-${this.scale}`);
  }

  merge(o: DecimalSum): void {
    const k = Math.max(this.scale, o.scale);
    this.units = addInt(scaleUp(this.units, k - this.scale), scaleUp(o.units, k - o.scale));
    this.scale = k;
    this.n += o.n;
  }

  save(): unknown {
    return [typeof this.units === 'bigint' ? `${this.units}` : this.units, this.scale, this.n];
  }

  static load(j: unknown): DecimalSum {
    const [u, s, n] = j as [number | string, number, number];
    const d = new DecimalSum();
    d.units = typeof u === 'string' ? toInt(BigInt(u)) : u;
    d.scale = s;
    d.n = n;
    return d;
  }
}
