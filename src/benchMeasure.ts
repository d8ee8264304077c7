// What every bench group measures with: medians (these machines are shared and noisy), wall time
// of one awaited step, and the process's memory.

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Peak resident memory of this process so far, MB. */
export const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;

/** Resident memory of this process now, MB. */
export const rssMb = (): number => process.memoryUsage().rss / 2 ** 20;

export async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await f();
  return [value, performance.now() - started];
}
