//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	loadReads   = 10_000
	loadClients = 32

	// loadCASSample sends every loadCASSample-th token to the fake CAS; all
	// tokens are verified locally.
	loadCASSample = 100

	// loadRSSGrowthLimit is the maximum growth of the plugin process's
	// resident memory over the run, in KiB. Keeping 3.3 KB per read (a token
	// with its response, or a goroutine stack) would exceed it, while the
	// garbage collector's normal heap growth stays far below.
	loadRSSGrowthLimit = 32 << 10
)

// TestLoadCreds reads creds loadReads times from loadClients concurrent
// clients through the HTTP API of a real Vault server with the plugin
// registered. Every read must succeed with a token whose signature and
// claims verify with the key file's public key and whose jti is unique. A
// sample is sent to the fake CAS. The plugin process's VmRSS is logged
// before and after, and its growth is bounded.
func TestLoadCreds(t *testing.T) {
	_, pluginDir := nodeDirs(t, t.TempDir(), "load")

	server, err := startVault(env.vault.bin, pluginDir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() {
		server.stop()
		killPlugins(t, pluginDir, false)
	})

	server.mustVault(t, "plugin", "register", "-sha256="+env.pluginSHA, "-command="+pluginBinary, "-version="+pluginVersion, "secret", pluginName)
	server.mustVault(t, "secrets", "enable", "-path=rsa", "-plugin-version="+pluginVersion, pluginName)
	server.mustVault(t, "write", "rsa/config/helpdesk-key", "key_file=@"+env.helpDeskPath, "admin_role=help_desk")
	server.mustVault(t, "write", "rsa/roles/helpdesk", "config=helpdesk-key", "admin_role=help_desk", "ttl=10m")

	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: loadClients},
	}

	// A warm-up lets the plugin reach its steady heap before the first
	// measurement.
	if errs := loadRun(server, client, loadClients*10, false, nil); len(errs) > 0 {
		t.Fatalf("warm-up: %d reads failed, first: %v", len(errs), errs[0])
	}

	pid := onePluginPID(t, pluginDir)

	before, err := rssKiB(pid)
	if err != nil {
		t.Fatal(err)
	}

	var seen sync.Map

	started := time.Now()
	errs := loadRun(server, client, loadReads, true, &seen)
	elapsed := time.Since(started)

	after, err := rssKiB(pid)
	if err != nil {
		t.Fatalf("plugin process after the run: %v", err)
	}

	if again := onePluginPID(t, pluginDir); again != pid {
		t.Errorf("plugin process changed from %d to %d during the run", pid, again)
	}

	t.Logf("load: reads=%d clients=%d errors=%d elapsed_seconds=%.1f reads_per_second=%.0f (wall time of the timed run on this machine, HTTP API of a dev server, every token verified in the test)",
		loadReads, loadClients, len(errs), elapsed.Seconds(), float64(loadReads)/elapsed.Seconds())
	t.Logf("load: plugin_rss_before_kib=%d plugin_rss_after_kib=%d growth_kib=%d (VmRSS of /proc/%d/status after a warm-up of %d reads and after the run)",
		before, after, after-before, pid, loadClients*10)

	for i, err := range errs {
		if i == 5 {
			t.Errorf("... and %d more errors", len(errs)-5)

			break
		}

		t.Errorf("read failed: %v", err)
	}

	unique := 0

	seen.Range(func(any, any) bool {
		unique++

		return true
	})

	if unique != loadReads {
		t.Errorf("%d distinct jti values in %d tokens, want all distinct", unique, loadReads)
	}

	if after-before > loadRSSGrowthLimit {
		t.Errorf("plugin RSS grew by %d KiB over %d reads, more than the %d KiB limit", after-before, loadReads, loadRSSGrowthLimit)
	}
}

// loadRun reads creds total times from loadClients goroutines and returns
// every error. When check is set, every token is verified and its jti
// stored in seen, and a sample goes to the fake CAS.
func loadRun(server *vaultServer, client *http.Client, total int, check bool, seen *sync.Map) []error {
	var (
		next int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)

	for range loadClients {
		wg.Go(func() {
			for {
				i := atomic.AddInt64(&next, 1)
				if i > int64(total) {
					return
				}

				if err := loadRead(server, client, int(i), check, seen); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("read %d: %w", i, err))
					mu.Unlock()
				}
			}
		})
	}

	wg.Wait()

	return errs
}

func loadRead(server *vaultServer, client *http.Client, i int, check bool, seen *sync.Map) error {
	req, err := http.NewRequest(http.MethodGet, server.addr+"/v1/rsa/creds/helpdesk", nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}

	req.Header.Set("X-Vault-Token", server.authToken())

	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("read creds: %w", err)
	}
	defer resp.Body.Close()

	var decoded struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
		Errors []string `json:"errors"`
	}

	if err := json.NewDecoder(resp.Body).Decode(&decoded); err != nil {
		return fmt.Errorf("status %d, undecodable body: %w", resp.StatusCode, err)
	}

	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %v", resp.StatusCode, decoded.Errors)
	}

	if !check {
		return nil
	}

	token, err := verifyToken(decoded.Data.Token, &env.helpDesk.PrivateKey.PublicKey, env.helpDesk.AccessID, env.cas.AdminURL(), time.Now())
	if err != nil {
		return err
	}

	if _, loaded := seen.LoadOrStore(token.id, true); loaded {
		return fmt.Errorf("jti %s issued twice", token.id)
	}

	if i%loadCASSample == 0 {
		return casAccepts(decoded.Data.Token)
	}

	return nil
}

// casAccepts sends one Admin API call with token to the fake CAS. Unlike
// callCAS it reports by error, so goroutines can call it.
func casAccepts(token string) error {
	req, err := http.NewRequest(http.MethodGet, env.cas.AdminURL()+"/v1/adminlog/exportlogs?pageSize=1&pageNumber=0", nil)
	if err != nil {
		return fmt.Errorf("build CAS request: %w", err)
	}

	req.Header.Set("Authorization", "Bearer "+token)

	resp, err := env.cas.Client().Do(req)
	if err != nil {
		return fmt.Errorf("call fake CAS: %w", err)
	}
	defer resp.Body.Close()

	_, _ = io.Copy(io.Discard, resp.Body)

	if resp.StatusCode != http.StatusOK {
		return errors.New("fake CAS refused the token with status " + resp.Status)
	}

	return nil
}
