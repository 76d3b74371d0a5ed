package cputime

import (
	"crypto/sha256"
	"runtime"
	"testing"
)

func TestProcessTimeGrowsWithWork(t *testing.T) {
	t.Parallel()

	before, ok := processTime()
	if !ok {
		if runtime.GOOS == "linux" {
			t.Fatal("processTime reported no CPU time on Linux")
		}

		return
	}

	// Hash for a while, so the process uses measurable CPU time.
	sum := sha256.Sum256(nil)
	for range 200_000 {
		sum = sha256.Sum256(sum[:])
	}

	after, _ := processTime()
	if after <= before {
		t.Errorf("CPU time went from %s to %s over 200,000 hashes, expected it to grow", before, after)
	}
}

func BenchmarkReportPerOp(b *testing.B) {
	start := Start()

	sum := sha256.Sum256(nil)
	for b.Loop() {
		sum = sha256.Sum256(sum[:])
	}

	ReportPerOp(b, start)
}
