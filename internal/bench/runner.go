package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// Config is the settings of one benchmark run, which main fills from flags.
type Config struct {
	VaultBin      string
	PluginDir     string
	PluginBinary  string
	PluginVersion string
	WorkDir       string

	Levels    []int
	Rounds    int
	RoundTime time.Duration
	Warmup    time.Duration
	Tokens    int // creds requests before each memory reading after the first

	GoBench     GoBench
	GoBenchRuns int
	GoBenchTime string
	Command     string
}

// The names the run gives its mount objects.
const (
	benchRole   = "bench"
	benchKey    = "bench"
	benchAdmin  = "help_desk"
	benchTenant = "https://bench.access.securid.com/AdminInterface/restapi"
	pluginName  = "rsa-cas"
)

// Execute starts Vault, runs the interleaved rounds and the memory runs, and
// returns the report. logf prints progress.
func Execute(ctx context.Context, cfg Config, logf func(string, ...any)) (*Report, error) {
	report := &Report{
		Started:       time.Now(),
		CPU:           CPUModel(),
		Cores:         runtime.NumCPU(),
		GoVersion:     runtime.Version(),
		PluginVersion: cfg.PluginVersion,
		LoadBefore:    LoadAverage(),
		RoundTime:     cfg.RoundTime,
		Rounds:        cfg.Rounds,
		GoBench:       cfg.GoBench,
		GoBenchRuns:   cfg.GoBenchRuns,
		GoBenchTime:   cfg.GoBenchTime,
		Command:       cfg.Command,
	}

	logf("starting a Vault dev server on 127.0.0.1 (log: %s)", filepath.Join(cfg.WorkDir, "vault.log"))

	vault, err := StartVault(ctx, cfg.VaultBin, cfg.PluginDir, cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	defer vault.Stop()

	logf("Vault %s is active (pid %d)", vault.Addr, vault.PID())

	creds, transit, err := setUp(ctx, vault, cfg, report)
	if err != nil {
		return nil, err
	}

	issued := 1 // setUp read one token for the payload

	client := NewClient(maxLevel(cfg.Levels))

	logf("warming up both for %s each", cfg.Warmup)

	for _, target := range []Target{creds, transit} {
		sample, err := Run(ctx, client, target, TargetClients, Stop{Duration: cfg.Warmup})
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}

		if target.Name == KindCreds {
			issued += sample.Requests
		}
	}

	pluginPID, err := FindChild(vault.PID(), cfg.PluginBinary)
	if err != nil {
		return nil, err
	}

	pids := []int{vault.PID(), pluginPID, os.Getpid()}
	levels := map[int]*Level{}

	for _, step := range Schedule(cfg.Levels, cfg.Rounds, KindCreds, KindTransit) {
		level := levels[step.Clients]
		if level == nil {
			level = &Level{Clients: step.Clients}
			levels[step.Clients] = level
			report.Levels = append(report.Levels, Level{}) // filled below, in level order
		}

		target, into := creds, &level.Creds
		if step.Kind == KindTransit {
			target, into = transit, &level.Transit
		}

		before, err := readCPU(pids)
		if err != nil {
			return nil, err
		}

		sample, err := Run(ctx, client, target, step.Clients, Stop{Duration: cfg.RoundTime})
		if err != nil {
			return nil, fmt.Errorf("%d clients, round %d: %w", step.Clients, step.Round+1, err)
		}

		after, err := readCPU(pids)
		if err != nil {
			return nil, err
		}

		sample.VaultCPU, sample.PluginCPU, sample.GeneratorCPU = after[0]-before[0], after[1]-before[1], after[2]-before[2]

		into.Add(sample)

		if step.Kind == KindCreds {
			issued += sample.Requests
		}

		logf("%2d clients, round %d/%d, %-7s %6.0f req/s, p99 %8s, CPU per request: Vault %s, plugin %s, generator %s",
			step.Clients, step.Round+1, cfg.Rounds, step.Kind, sample.Throughput(), ms(sample.Percentile(99)),
			us(float64(sample.PerRequest(sample.VaultCPU))), us(float64(sample.PerRequest(sample.PluginCPU))),
			us(float64(sample.PerRequest(sample.GeneratorCPU))))
	}

	for i, clients := range cfg.Levels {
		report.Levels[i] = *levels[clients]
	}

	memory, err := measureMemory(ctx, vault, client, creds, cfg, issued, logf)
	if err != nil {
		return nil, err
	}

	report.Memory = memory
	report.LoadAfter = LoadAverage()
	report.Duration = time.Since(report.Started)

	return report, nil
}

// setUp registers and enables the plugin, writes a key and a role, creates
// the transit key, and returns the two request kinds. It reads one token to
// size the transit payload like the bytes a creds request signs.
func setUp(ctx context.Context, vault *Vault, cfg Config, report *Report) (Target, Target, error) {
	var status struct {
		Version string `json:"version"`
	}

	if err := vault.Call(ctx, http.MethodGet, "sys/seal-status", nil, &status); err != nil {
		return Target{}, Target{}, err
	}

	report.VaultVersion = status.Version

	binary, err := os.ReadFile(filepath.Join(cfg.PluginDir, cfg.PluginBinary))
	if err != nil {
		return Target{}, Target{}, fmt.Errorf("read plugin binary: %w", err)
	}

	sum := sha256.Sum256(binary)

	keyFile, err := castest.NewKeyFile(benchTenant, "Bench Tenant", "make bench")
	if err != nil {
		return Target{}, Target{}, err
	}

	for _, call := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPut, "sys/plugins/catalog/secret/" + pluginName, map[string]any{
			"sha256": hex.EncodeToString(sum[:]), "command": cfg.PluginBinary, "version": cfg.PluginVersion,
		}},
		{http.MethodPost, "sys/mounts/rsa", map[string]any{"type": pluginName, "plugin_version": cfg.PluginVersion}},
		{http.MethodPost, "rsa/config/" + benchKey, map[string]any{"key_file": string(keyFile.JSON), "admin_role": benchAdmin}},
		{http.MethodPost, "rsa/roles/" + benchRole, map[string]any{"config": benchKey, "admin_role": benchAdmin, "ttl": "15m"}},
		{http.MethodPost, "sys/mounts/transit", map[string]any{"type": "transit"}},
		{http.MethodPost, "transit/keys/" + benchKey, map[string]any{"type": "rsa-2048"}},
	} {
		if err := vault.Call(ctx, call.method, call.path, call.body, nil); err != nil {
			return Target{}, Target{}, fmt.Errorf("set up: %w", err)
		}
	}

	var token struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}

	if err := vault.Call(ctx, http.MethodGet, "rsa/creds/"+benchRole, nil, &token); err != nil {
		return Target{}, Target{}, err
	}

	dot := strings.LastIndexByte(token.Data.Token, '.')
	if dot < 0 {
		return Target{}, Target{}, errors.New("creds response has no JWT in data.token; check the plugin's log in the Vault log")
	}

	signingInput := token.Data.Token[:dot]
	report.PayloadBytes = len(signingInput)

	body := fmt.Appendf(nil, `{"input":%q,"hash_algorithm":"sha2-256","signature_algorithm":"pkcs1v15"}`,
		base64.StdEncoding.EncodeToString([]byte(signingInput)))

	creds := Target{Name: KindCreds, Method: http.MethodGet, URL: vault.Addr + "/v1/rsa/creds/" + benchRole, Token: RootToken}
	transit := Target{Name: KindTransit, Method: http.MethodPost, URL: vault.Addr + "/v1/transit/sign/" + benchKey, Token: RootToken, Body: body}

	return creds, transit, nil
}

// measureMemory tops the creds count up to cfg.Tokens, reads the plugin's
// memory, then sends cfg.Tokens more and reads it again.
func measureMemory(ctx context.Context, vault *Vault, client *http.Client, creds Target, cfg Config, issued int,
	logf func(string, ...any),
) ([]MemoryPoint, error) {
	var points []MemoryPoint

	read := func(label string) error {
		pid, err := FindChild(vault.PID(), cfg.PluginBinary)
		if err != nil {
			return err
		}

		mem, err := ReadMemory(pid)
		if err != nil {
			return err
		}

		points = append(points, MemoryPoint{Label: label, Tokens: issued, PID: pid, Memory: mem})
		logf("plugin pid %d after %d tokens: VmRSS %s, VmHWM %s", pid, issued, mib(mem.RSS), mib(mem.Peak))

		return nil
	}

	if err := read("after the timed rounds"); err != nil {
		return nil, err
	}

	for run, label := range []string{"first run", "repeated run"} {
		want := cfg.Tokens
		if run == 0 {
			want = cfg.Tokens - issued
		}

		if want > 0 {
			logf("issuing %d tokens at %d clients (%s)", want, TargetClients, label)

			sample, err := Run(ctx, client, creds, TargetClients, Stop{Requests: want})
			if err != nil {
				return nil, fmt.Errorf("memory %s: %w", label, err)
			}

			issued += sample.Requests
		}

		if err := read("end of " + label); err != nil {
			return nil, err
		}
	}

	return points, nil
}

// readCPU returns the CPU time of each process in pids.
func readCPU(pids []int) ([]time.Duration, error) {
	times := make([]time.Duration, len(pids))

	for i, pid := range pids {
		cpu, err := CPUTime(pid)
		if err != nil {
			return nil, err
		}

		times[i] = cpu
	}

	return times, nil
}

func maxLevel(levels []int) int {
	top := 1
	for _, level := range levels {
		top = max(top, level)
	}

	return top
}
