// Package bench drives `make bench`: it starts a Vault dev server with the
// plugin and the builtin transit engine, loads both over keep-alive HTTP on
// loopback in interleaved rounds, reads the plugin's memory from /proc and
// writes docs/benchmarks.md. The command is cmd/rsa-cas-bench.
package bench

import (
	"math"
	"slices"
	"time"
)

// Sample is the measurement of one or more load rounds of one kind.
type Sample struct {
	Requests  int
	Elapsed   time.Duration
	Latencies []time.Duration

	// CPU time the processes used during the rounds, read from /proc.
	VaultCPU     time.Duration
	PluginCPU    time.Duration
	GeneratorCPU time.Duration
}

// Add merges other into s, as if the rounds had run back to back.
func (s *Sample) Add(other Sample) {
	s.Requests += other.Requests
	s.Elapsed += other.Elapsed
	s.Latencies = append(s.Latencies, other.Latencies...)
	s.VaultCPU += other.VaultCPU
	s.PluginCPU += other.PluginCPU
	s.GeneratorCPU += other.GeneratorCPU
}

// PerRequest divides a CPU time by the number of requests.
func (s Sample) PerRequest(cpu time.Duration) time.Duration {
	if s.Requests == 0 {
		return 0
	}

	return cpu / time.Duration(s.Requests)
}

// Throughput is requests per second over the summed round time.
func (s Sample) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}

	return float64(s.Requests) / s.Elapsed.Seconds()
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of the
// latencies, or 0 when there are none.
func (s Sample) Percentile(p float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}

	sorted := slices.Clone(s.Latencies)
	slices.Sort(sorted)

	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))

	return sorted[rank-1]
}

// Median returns the median of values, or 0 for none.
func Median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}

	sorted := slices.Clone(values)
	slices.Sort(sorted)

	mid := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[mid]
	}

	return (sorted[mid-1] + sorted[mid]) / 2
}

// Ratio returns a/b, or 0 when b is 0.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}

	return a / b
}
