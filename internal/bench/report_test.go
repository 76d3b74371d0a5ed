package bench

import (
	"strings"
	"testing"
	"time"
)

// sampleOf returns a sample of n requests over one second, each taking
// latency, with the given CPU times.
func sampleOf(n int, latency, vaultCPU, pluginCPU time.Duration) Sample {
	sample := Sample{Requests: n, Elapsed: time.Second, VaultCPU: vaultCPU, PluginCPU: pluginCPU}
	for range n {
		sample.Latencies = append(sample.Latencies, latency)
	}

	return sample
}

func testReport() *Report {
	return &Report{
		Started:     time.Date(2026, time.December, 4, 21, 0, 0, 0, time.UTC),
		RoundTime:   3 * time.Second,
		Rounds:      6,
		GoBenchRuns: 2,
		GoBenchTime: "500ms",
		Levels: []Level{{
			Clients: TargetClients,
			Creds:   sampleOf(600, 30*time.Millisecond, 600*time.Millisecond, 600*time.Millisecond),
			Transit: sampleOf(1000, 20*time.Millisecond, time.Second, 0),
		}},
		GoBench: GoBench{
			BenchRawSign:    {UnitTime: {800, 900}, UnitCPU: {800, 900}},
			BenchMint:       {UnitTime: {820, 920}, UnitCPU: {810, 910}},
			BenchCredsIssue: {UnitTime: {850, 950}, UnitCPU: {840, 940}},
		},
		Memory: []MemoryPoint{
			{Label: "after the timed rounds", Tokens: 40_000, Memory: Memory{RSS: 30 << 20, Peak: 31 << 20}},
			{Label: "end of first run", Tokens: 100_000, Memory: Memory{RSS: 30 << 20, Peak: 32 << 20}},
			{Label: "end of repeated run", Tokens: 200_000, Memory: Memory{RSS: 30 << 20, Peak: 32 << 20}},
		},
	}
}

func TestReportChecks(t *testing.T) {
	t.Parallel()

	met := map[string]bool{}
	for _, check := range testReport().Checks() {
		met[check.Name] = check.Met
	}

	want := map[string]bool{
		"creds throughput at 16 clients": false, // 0.6x
		"creds p99 at 16 clients":        false, // 1.5x
		"plugin-side mint rate":          true,  // about 0.99x
		"plugin peak RSS (VmHWM)":        true,  // 32 MiB
		"plugin peak RSS across runs":    true,  // +0%
	}

	for name, wantMet := range want {
		got, ok := met[name]
		if !ok {
			t.Errorf("no check named %q", name)

			continue
		}

		if got != wantMet {
			t.Errorf("check %q met = %t, expected %t", name, got, wantMet)
		}
	}
}

func TestReportMarkdown(t *testing.T) {
	t.Parallel()

	text := testReport().Markdown()

	for _, want := range []string{
		"| 16 | 600 | 1000 | 0.600 | 30.00 ms | 20.00 ms | 30.00 ms | 20.00 ms | 1.500 |",
		"| 16 | 1000 µs | 1000 µs | 2000 µs | 1000 µs | 0.500 |",
		"| end of repeated run | 200000 | 0 | 30.0 MiB | 32.0 MiB |",
		"-test.bench '^BenchmarkMint$' -test.benchtime 500ms",
		"## Where the time goes",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
