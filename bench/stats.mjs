// Small statistics for benchmark rounds: percentiles of latency samples, and the median and
// spread of a metric over rounds.

/** The p-th percentile (0..100) of the first `count` samples, nearest-rank; sorts a copy. */
export function percentile(samples, p, count = samples.length) {
  if (count === 0) return NaN
  const sorted = Float64Array.from(samples.subarray ? samples.subarray(0, count) : samples.slice(0, count)).sort()
  const rank = Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1))
  return sorted[rank]
}

export function median(values) {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (finite.length === 0) return NaN
  const mid = finite.length >> 1
  return finite.length % 2 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2
}

/** (max - min) / median: how far apart the rounds were, as a fraction of the median. */
export function spread(values) {
  const finite = values.filter(Number.isFinite)
  const mid = median(finite)
  if (finite.length < 2 || !mid) return 0
  return (Math.max(...finite) - Math.min(...finite)) / Math.abs(mid)
}

/** A growable store of latency samples in milliseconds. */
export class Samples {
  constructor(capacity = 1 << 16) {
    this.values = new Float64Array(capacity)
    this.count = 0
  }

  add(ms) {
    if (this.count === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2)
      bigger.set(this.values)
      this.values = bigger
    }
    this.values[this.count++] = ms
  }

  percentile(p) {
    return percentile(this.values, p, this.count)
  }
}
