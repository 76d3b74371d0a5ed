package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// GoBench holds ns/op results of `go test -bench` runs by benchmark name,
// without the -GOMAXPROCS suffix, one value per run.
type GoBench map[string][]float64

// ParseGoBench reads `go test -bench` output and collects the ns/op of every
// result line. Other lines (goos, PASS, ok) are skipped.
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

		for i := 2; i+1 < len(fields); i += 2 {
			if fields[i+1] != "ns/op" {
				continue
			}

			value, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: ns/op is %q: %w", fields[0], fields[i], err)
			}

			results[name] = append(results[name], value)
		}
	}

	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}

	return results, nil
}

// Median returns the median ns/op of benchmark name and how many runs it
// has.
func (g GoBench) Median(name string) (float64, int) {
	return Median(g[name]), len(g[name])
}
