// Seeded property testing: a small reproducible generator and a runner that names the seed and
// case of a failure, so `OSIMG_PROPERTY_SEED=S OSIMG_PROPERTY_CASE=I deno test ...` replays it.

/** A deterministic pseudo-random source (mulberry32: 32-bit state, full period, fast). */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  /** `count` items made by `make`, joined with `separator`. */
  join(count: number, make: () => string, separator = ""): string {
    return Array.from({ length: count }, make).join(separator);
  }
}

/** The case seed of case `index` of a property run with `seed`: cases replay one by one. */
function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

/** What a property run did, for the closing line of the test and the note. */
export interface PropertyRun {
  seed: number;
  cases: number;
}

/**
 * Runs `body` on `count` generated cases. The seed is OSIMG_PROPERTY_SEED or `defaultSeed` (fixed,
 * so CI is repeatable); OSIMG_PROPERTY_CASE runs that one case only. A failing case throws an
 * error that names the property, the seed and the case, and carries the original as its cause.
 */
export async function forAllCases(
  property: string,
  count: number,
  defaultSeed: number,
  body: (rng: Rng, index: number) => Promise<void>,
): Promise<PropertyRun> {
  const seed = Number(Deno.env.get("OSIMG_PROPERTY_SEED") ?? defaultSeed) >>> 0;
  const only = Deno.env.get("OSIMG_PROPERTY_CASE");
  const indexes = only === undefined
    ? Array.from({ length: count }, (_, index) => index)
    : [Number(only)];
  for (const index of indexes) {
    try {
      await body(new Rng(caseSeed(seed, index)), index);
    } catch (error) {
      throw new Error(
        `property "${property}" failed at seed ${seed} case ${index} ` +
          `(replay: OSIMG_PROPERTY_SEED=${seed} OSIMG_PROPERTY_CASE=${index}): ` +
          `${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return { seed, cases: indexes.length };
}
