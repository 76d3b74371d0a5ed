// Package cputime lets benchmarks report CPU time per operation next to
// wall time. On a machine shared with other work, wall time also counts the
// time other processes held the CPU, so ratios of two benchmarks run at
// different moments drift with the load. CPU time does not.
package cputime

import (
	"testing"
	"time"
)

// Unit is the metric name benchmarks report with ReportPerOp.
const Unit = "cpu-ns/op"

// Start returns the process's CPU time so far, for ReportPerOp. Call it
// after the benchmark's setup.
func Start() time.Duration {
	used, _ := processTime()

	return used
}

// ReportPerOp reports the process CPU time used since start, divided by
// b.N, as the metric cpu-ns/op. It reports nothing where the platform gives
// no process CPU time.
func ReportPerOp(b *testing.B, start time.Duration) {
	b.Helper()

	end, ok := processTime()
	if !ok || b.N == 0 {
		return
	}

	b.ReportMetric(float64(end-start)/float64(b.N), Unit)
}
