// Command rsa-cas-bench compares `GET rsa/creds/<role>` with Vault's
// builtin transit sign on one Vault dev server it starts on loopback, reads
// the plugin's memory, and writes docs/benchmarks.md. `make bench` runs it
// through scripts/bench.sh, which builds what it needs first:
//
//	rsa-cas-bench -vault .bin/vault -plugin-dir .bin/plugins -gobench .bench/gobench.txt -out docs/benchmarks.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/internal/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "rsa-cas-bench: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		cfg         bench.Config
		levels      string
		goBenchPath string
		out         string
	)

	flag.StringVar(&cfg.VaultBin, "vault", "", "vault binary to run as a dev server (required)")
	flag.StringVar(&cfg.PluginDir, "plugin-dir", ".bin/plugins", "directory holding the plugin binary")
	flag.StringVar(&cfg.PluginBinary, "plugin-binary", "vault-plugin-secrets-rsa-cas", "plugin binary's file name")
	flag.StringVar(&cfg.PluginVersion, "plugin-version", "v0.1.0", "version the plugin binary was stamped with")
	flag.StringVar(&cfg.WorkDir, "work", ".bench", "directory for the server's config and log")
	flag.StringVar(&levels, "clients", "1,4,16,64", "comma-separated client counts")
	flag.IntVar(&cfg.Rounds, "rounds", 6, "rounds of each kind per client count")
	flag.DurationVar(&cfg.RoundTime, "round", 3*time.Second, "length of one round")
	flag.DurationVar(&cfg.Warmup, "warmup", 3*time.Second, "warm-up of each kind before the rounds")
	flag.IntVar(&cfg.Tokens, "tokens", 100_000, "tokens issued before each memory reading")
	flag.StringVar(&goBenchPath, "gobench", "", "`go test -bench` output with the Mint, RawSign and CredsIssue results (required)")
	flag.IntVar(&cfg.GoBenchRuns, "gobench-runs", 0, "alternating runs of each Go benchmark in -gobench, for the report")
	flag.StringVar(&cfg.GoBenchTime, "gobench-time", "", "-test.benchtime of each Go benchmark run in -gobench, for the report")
	flag.StringVar(&out, "out", "docs/benchmarks.md", "report to write")
	flag.Parse()

	if cfg.VaultBin == "" || goBenchPath == "" {
		flag.Usage()

		return errors.New("-vault and -gobench are required")
	}

	for field := range strings.SplitSeq(levels, ",") {
		clients, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || clients < 1 {
			return fmt.Errorf("-clients %q: %q is not a positive whole number", levels, field)
		}

		cfg.Levels = append(cfg.Levels, clients)
	}

	if cfg.Rounds < 1 || cfg.RoundTime <= 0 || cfg.Warmup <= 0 || cfg.Tokens < 1 {
		return errors.New("-rounds, -round, -warmup and -tokens must be positive")
	}

	goBench, err := readGoBench(goBenchPath)
	if err != nil {
		return err
	}

	cfg.GoBench = goBench
	cfg.Command = commandLine(os.Args[1:])

	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logf := func(format string, args ...any) {
		fmt.Printf("%s %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
	}

	report, err := bench.Execute(ctx, cfg, logf)
	if err != nil {
		return err
	}

	if err := os.WriteFile(out, []byte(report.Markdown()), 0o644); err != nil { //nolint:gosec // a document in the repository, meant to be read
		return fmt.Errorf("write report: %w", err)
	}

	logf("wrote %s", out)

	for _, check := range report.Checks() {
		logf("target %-32s wanted %-36s measured %-28s met: %t", check.Name, check.Target, check.Measured, check.Met)
	}

	return nil
}

// commandLine returns the run's command as a shell would take it, quoting
// arguments that contain spaces or quotes.
func commandLine(args []string) string {
	words := []string{"rsa-cas-bench"}

	for _, arg := range args {
		if strings.ContainsAny(arg, " '\"$") {
			arg = "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
		}

		words = append(words, arg)
	}

	return strings.Join(words, " ")
}

func readGoBench(path string) (bench.GoBench, error) {
	file, err := os.Open(path) //nolint:gosec // a file named on the command line
	if err != nil {
		return nil, fmt.Errorf("open Go benchmark output: %w", err)
	}
	defer file.Close()

	results, err := bench.ParseGoBench(file)
	if err != nil {
		return nil, err
	}

	for _, name := range []string{bench.BenchMint, bench.BenchRawSign, bench.BenchCredsIssue} {
		for _, unit := range []string{bench.UnitTime, bench.UnitCPU} {
			if len(results[name][unit]) == 0 {
				return nil, fmt.Errorf("%s has no %s result in %s; run the Go benchmarks first (scripts/bench.sh does)", path, name, unit)
			}
		}
	}

	return results, nil
}
