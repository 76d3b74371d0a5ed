package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()

	var sample Sample
	for i := 100; i >= 1; i-- { // unsorted on purpose
		sample.Latencies = append(sample.Latencies, time.Duration(i)*time.Millisecond)
	}

	tests := []struct {
		p    float64
		want time.Duration
	}{
		{50, 50 * time.Millisecond},
		{99, 99 * time.Millisecond},
		{100, 100 * time.Millisecond},
		{0.1, 1 * time.Millisecond},
	}

	for _, tt := range tests {
		if got := sample.Percentile(tt.p); got != tt.want {
			t.Errorf("Percentile(%v) = %s, expected %s", tt.p, got, tt.want)
		}
	}

	if sample.Latencies[0] != 100*time.Millisecond {
		t.Error("Percentile sorted the sample's own latencies; it must sort a copy")
	}

	if got := (Sample{}).Percentile(99); got != 0 {
		t.Errorf("Percentile of an empty sample = %s, expected 0", got)
	}
}

func TestSampleAdd(t *testing.T) {
	t.Parallel()

	total := Sample{Requests: 10, Elapsed: time.Second, Latencies: []time.Duration{1}, VaultCPU: time.Millisecond}
	total.Add(Sample{Requests: 30, Elapsed: time.Second, Latencies: []time.Duration{2, 3}, VaultCPU: 3 * time.Millisecond, PluginCPU: 4 * time.Millisecond})

	if total.Requests != 40 || total.Elapsed != 2*time.Second || len(total.Latencies) != 3 {
		t.Errorf("Add gave %+v", total)
	}

	if got := total.Throughput(); got != 20 {
		t.Errorf("Throughput = %v, expected 20", got)
	}

	if got := total.PerRequest(total.VaultCPU); got != 100*time.Microsecond {
		t.Errorf("PerRequest(VaultCPU) = %s, expected 100µs", got)
	}

	if got := (Sample{}).PerRequest(time.Second); got != 0 {
		t.Errorf("PerRequest with no requests = %s, expected 0", got)
	}
}

func TestMedianAndRatio(t *testing.T) {
	t.Parallel()

	if got := Median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("Median odd = %v, expected 3", got)
	}

	if got := Median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("Median even = %v, expected 2.5", got)
	}

	if got := Median(nil); got != 0 {
		t.Errorf("Median(nil) = %v, expected 0", got)
	}

	if got := Ratio(3, 0); got != 0 {
		t.Errorf("Ratio(3, 0) = %v, expected 0", got)
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()

	got := Schedule([]int{1, 4}, 3, "a", "b")

	want := []Step{
		{1, 0, "a"}, {1, 0, "b"}, {1, 1, "b"}, {1, 1, "a"}, {1, 2, "a"}, {1, 2, "b"},
		{4, 0, "a"}, {4, 0, "b"}, {4, 1, "b"}, {4, 1, "a"}, {4, 2, "a"}, {4, 2, "b"},
	}

	if len(got) != len(want) {
		t.Fatalf("Schedule gave %d steps, expected %d: %+v", len(got), len(want), got)
	}

	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d = %+v, expected %+v", i, got[i], want[i])
		}
	}
}
