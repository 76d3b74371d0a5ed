package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Units of the Go benchmark results the report reads.
const (
	UnitTime = "ns/op"
	// UnitCPU is process CPU time per op, which the benchmarks report
	// themselves. Unlike ns/op it leaves out time the benchmark waited for
	// other processes to get off the CPU.
	UnitCPU = "cpu-ns/op"
)

// GoBench holds the results of `go test -bench` runs by benchmark name,
// without the -GOMAXPROCS suffix, and by unit, one value per run.
type GoBench map[string]map[string][]float64

// ParseGoBench reads `go test -bench` output and collects every value of
// every result line. Other lines (goos, PASS, ok) are skipped.
func ParseGoBench(r io.Reader) (GoBench, error) {
	results := GoBench{}

	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}

		name := fields[0]
		if dash := strings.LastIndexByte(name, '-'); dash > 0 {
			if _, err := strconv.Atoi(name[dash+1:]); err == nil {
				name = name[:dash]
			}
		}

		if results[name] == nil {
			results[name] = map[string][]float64{}
		}

		// After the name and the iteration count come value and unit pairs.
		for i := 2; i+1 < len(fields); i += 2 {
			value, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %s is %q: %w", fields[0], fields[i+1], fields[i], err)
			}

			results[name][fields[i+1]] = append(results[name][fields[i+1]], value)
		}
	}

	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}

	return results, nil
}

// Median returns the median of benchmark name's values in unit and how many
// runs it has.
func (g GoBench) Median(name, unit string) (float64, int) {
	values := g[name][unit]

	return Median(values), len(values)
}

// PairedRatio returns the median over runs i of num's value in run i over
// den's in run i, both in unit. Runs with the same index ran next to each
// other, so each pair saw about the same machine load. It returns 0 when no
// pair exists.
func (g GoBench) PairedRatio(num, den, unit string) float64 {
	pairs := min(len(g[num][unit]), len(g[den][unit]))
	ratios := make([]float64, 0, pairs)

	for i := range pairs {
		ratios = append(ratios, Ratio(g[num][unit][i], g[den][unit][i]))
	}

	return Median(ratios)
}
