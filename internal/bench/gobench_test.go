package bench

import (
	"strings"
	"testing"
)

const goBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas
cpu: Intel(R) Xeon(R) Processor
BenchmarkMint-2   	    1567	    765271 ns/op	    4020 B/op	      25 allocs/op
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

	if got, runs := results.Median(BenchMint); got != 755000 || runs != 3 {
		t.Errorf("Mint median = %v over %d runs, expected 755000 over 3", got, runs)
	}

	if got, runs := results.Median(BenchRawSign); got != 790815 || runs != 1 {
		t.Errorf("RawSign median = %v over %d runs, expected 790815 over 1", got, runs)
	}

	if _, runs := results.Median("BenchmarkAbsent"); runs != 0 {
		t.Errorf("an absent benchmark has %d runs", runs)
	}

	if _, err := ParseGoBench(strings.NewReader("BenchmarkMint-2 10 fast ns/op\n")); err == nil {
		t.Error("ParseGoBench accepted a non-numeric ns/op")
	}
}
