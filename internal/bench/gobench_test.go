package bench

import (
	"strings"
	"testing"
)

const goBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas
cpu: Intel(R) Xeon(R) Processor
BenchmarkMint-2   	    1567	    765271 ns/op	    760000 cpu-ns/op	    4020 B/op	      25 allocs/op
BenchmarkRawSign-2   	    1576	    790815 ns/op	     512 B/op	       2 allocs/op
PASS
BenchmarkMint-2   	    1500	    745000 ns/op	    4020 B/op	      25 allocs/op
BenchmarkMint   	    1500	    755000 ns/op
BenchmarkCredsIssue-2   	    1418	    829002 ns/op	    9885 B/op	     116 allocs/op
ok  	github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas	3.1s
`

func TestParseGoBench(t *testing.T) {
	t.Parallel()

	results, err := ParseGoBench(strings.NewReader(goBenchOutput))
	if err != nil {
		t.Fatalf("ParseGoBench: %v", err)
	}

	if got, runs := results.Median(BenchMint, UnitTime); got != 755000 || runs != 3 {
		t.Errorf("Mint median = %v over %d runs, expected 755000 over 3", got, runs)
	}

	if got, runs := results.Median(BenchMint, UnitCPU); got != 760000 || runs != 1 {
		t.Errorf("Mint CPU median = %v over %d runs, expected 760000 over 1", got, runs)
	}

	if got, runs := results.Median(BenchRawSign, "allocs/op"); got != 2 || runs != 1 {
		t.Errorf("RawSign allocs median = %v over %d runs, expected 2 over 1", got, runs)
	}

	if _, runs := results.Median("BenchmarkAbsent", UnitTime); runs != 0 {
		t.Errorf("an absent benchmark has %d runs", runs)
	}

	if _, err := ParseGoBench(strings.NewReader("BenchmarkMint-2 10 fast ns/op\n")); err == nil {
		t.Error("ParseGoBench accepted a non-numeric ns/op")
	}
}

func TestPairedRatio(t *testing.T) {
	t.Parallel()

	// Run 2 is slow for both, as when the machine got busy, and the pairing
	// cancels it.
	results := GoBench{
		BenchRawSign: {UnitTime: {100, 300, 100}},
		BenchMint:    {UnitTime: {110, 330, 105}},
	}

	if got := results.PairedRatio(BenchRawSign, BenchMint, UnitTime); got < 0.909 || got > 0.91 {
		t.Errorf("PairedRatio = %v, expected 100/110 = 0.909", got)
	}

	if got := results.PairedRatio(BenchRawSign, "BenchmarkAbsent", UnitTime); got != 0 {
		t.Errorf("PairedRatio with no pairs = %v, expected 0", got)
	}
}
