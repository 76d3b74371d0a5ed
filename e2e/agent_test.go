//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agentTTL is the role TTL of most agent tests, in seconds: short, so a run
// of several lease periods stays around a minute.
const agentTTL = 15

// agentDefaultThresholdTTL is the role TTL, in seconds, of the run with the
// default threshold. At 15 s that run left as little as 0.61 s between a
// new token and the old one's exp, too thin a margin on a loaded CI
// machine. At 30 s the predicted margin is 1.45 s.
const agentDefaultThresholdTTL = 30

// agentRenders is how many distinct tokens each agent must render, so the
// run covers agentRenders-1 re-renders.
const agentRenders = 5

// agentPolicy lets the agent's AppRole token read creds of the agent roles
// and nothing else.
const agentPolicy = `path "rsa/creds/agent-*" {
  capabilities = ["read"]
}
`

// agentAuth is the AppRole part of every agent config in these tests. The
// secret ID file is kept, so the agent can log in again after a restart.
const agentAuth = `vault {
  address = %q
}

auto_auth {
  method "approle" {
    config = {
      role_id_file_path                   = %q
      secret_id_file_path                 = %q
      remove_secret_id_file_after_reading = false
    }
  }
}
`

// agentFileTemplates renders the token file and the header line file.
const agentFileTemplates = `template {
  contents    = "{{ with secret \"rsa/creds/%[1]s\" }}{{ .Data.token }}{{ end }}"
  destination = %[2]q
  perms       = "0600"
}

template {
  contents    = "{{ with secret \"rsa/creds/%[1]s\" }}Authorization: Bearer {{ .Data.token }}{{ end }}"
  destination = %[3]q
  perms       = "0600"
}
`

// agentExec runs a command with the token in CAS_TOKEN and starts it again
// with the new value whenever the token changes.
const agentExec = `env_template "CAS_TOKEN" {
  contents             = "{{ with secret \"rsa/creds/%[1]s\" }}{{ .Data.token }}{{ end }}"
  error_on_missing_key = true
}

exec {
  command                   = ["/bin/sh", %[2]q]
  restart_on_secret_changes = "always"
  restart_stop_signal       = "SIGTERM"
}
`

// agentCase is one agent run: a role, how the token reaches the consumer,
// and the lease_renewal_threshold, 0 for the agent's default of 0.9.
type agentCase struct {
	name      string
	role      string
	exec      bool
	threshold float64

	// ttl is the role TTL in seconds.
	ttl int

	// startDelay is how long after a render the consumer gets the token:
	// exec mode starts the command again 2 s after the token changed (a
	// fixed debounce in Vault Agent 1.21).
	startDelay time.Duration

	watches []*tokenWatch
}

// observed is one token as the consumer saw it.
type observed struct {
	token issuedToken
	seen  time.Time
}

// TestAgentRendersFreshTokens runs real `vault agent` processes side by
// side that log in with AppRole and render creds of 15- and 30-second roles, and
// watches what they render until each has shown agentRenders tokens. Every
// token must be valid when it appears and accepted by the fake CAS, and
// each must replace the previous one before that one expires, after the
// share of the lease that lease_renewal_threshold predicts.
func TestAgentRendersFreshTokens(t *testing.T) {
	setup(t)

	dir := t.TempDir()
	roleIDPath, secretIDPath := agentAppRole(t, dir)

	cases := []*agentCase{
		{name: "file and header templates", role: "agent-file", ttl: agentDefaultThresholdTTL},
		{name: "threshold 0.5", role: "agent-early", threshold: 0.5, ttl: agentTTL},
		// With the default threshold and the 2 s exec debounce, a
		// 15-second token could expire before the command starts again. This
		// run fetches earlier, and docs/agent.md gives the arithmetic.
		{name: "exec with env_template", role: "agent-exec", exec: true, threshold: 0.7, ttl: agentTTL, startDelay: 2 * time.Second},
	}

	for _, tc := range cases {
		env.vault.mustVault(t, "write", "rsa/roles/"+tc.role, "config=helpdesk-key", "admin_role=help_desk", fmt.Sprintf("ttl=%ds", tc.ttl))
		tc.watches = startAgentCase(t, tc, roleIDPath, secretIDPath)
	}

	// All agents run at once, so the whole test takes about as long as the
	// slowest one. Every new token is checked as soon as it shows up.
	limit := time.Duration(agentRenders+3) * agentDefaultThresholdTTL * time.Second
	deadline := time.Now().Add(limit)

	for {
		done := true

		for _, tc := range cases {
			for _, w := range tc.watches {
				w.poll(t)
			}

			done = done && tc.watches[0].count() >= agentRenders
		}

		if done {
			break
		}

		if time.Now().After(deadline) {
			for _, tc := range cases {
				t.Errorf("agent %q: %d distinct tokens after %s, want %d", tc.name, tc.watches[0].count(), limit, agentRenders)
			}

			t.FailNow()
		}

		time.Sleep(50 * time.Millisecond)
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkAgentCase(t, tc)
		})
	}
}

// agentAppRole enables AppRole, creates a role whose token may read the
// agent roles' creds, and writes its role ID and a secret ID to files.
func agentAppRole(t *testing.T, dir string) (string, string) {
	t.Helper()

	policyPath := filepath.Join(dir, "cas-agent.hcl")
	if err := os.WriteFile(policyPath, []byte(agentPolicy), 0o600); err != nil {
		t.Fatalf("write policy: %v", err)
	}

	env.vault.mustVault(t, "auth", "enable", "approle")
	env.vault.mustVault(t, "policy", "write", "cas-agent", policyPath)
	env.vault.mustVault(t, "write", "auth/approle/role/cas-agent", "token_policies=cas-agent")

	roleID := strings.TrimSpace(env.vault.mustVault(t, "read", "-field=role_id", "auth/approle/role/cas-agent/role-id"))
	secretID := strings.TrimSpace(env.vault.mustVault(t, "write", "-f", "-field=secret_id", "auth/approle/role/cas-agent/secret-id"))

	roleIDPath := filepath.Join(dir, "role-id")
	secretIDPath := filepath.Join(dir, "secret-id")

	for path, value := range map[string]string{roleIDPath: roleID, secretIDPath: secretID} {
		if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}

	return roleIDPath, secretIDPath
}

// startAgentCase starts the agent of tc and returns what to watch: the
// token file and the header file, or the tokens the exec child was
// started with.
func startAgentCase(t *testing.T, tc *agentCase, roleIDPath, secretIDPath string) []*tokenWatch {
	t.Helper()

	dir := t.TempDir()
	tokenPath := filepath.Join(dir, "cas-token")
	headerPath := filepath.Join(dir, "cas-auth-header")
	execOut := filepath.Join(dir, "exec-tokens")

	config := fmt.Sprintf(agentAuth, env.vault.addr, roleIDPath, secretIDPath)

	if tc.threshold != 0 {
		config += fmt.Sprintf("\ntemplate_config {\n  lease_renewal_threshold = %g\n}\n", tc.threshold)
	}

	if !tc.exec {
		config += "\n" + fmt.Sprintf(agentFileTemplates, tc.role, tokenPath, headerPath)
		startAgent(t, dir, config)

		return []*tokenWatch{
			{name: tc.name + ": token file", read: fileReader(tokenPath, "")},
			{name: tc.name + ": header file", read: fileReader(headerPath, "Authorization: Bearer ")},
		}
	}

	// The child appends the token it was started with, then becomes a sleep
	// that the agent's SIGTERM ends before the next start.
	script := filepath.Join(dir, "child.sh")
	body := fmt.Sprintf("printf '%%s\\n' \"$CAS_TOKEN\" >> '%s'\nexec sleep 600\n", execOut)

	if err := os.WriteFile(script, []byte(body), 0o600); err != nil {
		t.Fatalf("write child script: %v", err)
	}

	config += "\n" + fmt.Sprintf(agentExec, tc.role, script)
	startAgent(t, dir, config)

	return []*tokenWatch{{name: tc.name + ": exec child env", read: lastLineReader(execOut)}}
}

// checkAgentCase checks the sequence of tokens the consumers of one agent
// saw, and that each came from its own creds read.
func checkAgentCase(t *testing.T, tc *agentCase) {
	threshold := tc.threshold
	if threshold == 0 {
		threshold = 0.9
	}

	for _, w := range tc.watches {
		w.check(t, tc.ttl, threshold, tc.startDelay)
	}

	if len(tc.watches) == 2 {
		fileTokens := make(map[string]bool)
		for _, o := range tc.watches[0].tokens {
			fileTokens[o.token.id] = true
		}

		for _, o := range tc.watches[1].tokens {
			if !fileTokens[o.token.id] {
				t.Errorf("header file held token jti %s that the token file never held", o.token.id)
			}
		}
	}

	// Each distinct token must come from one creds read, so the audit log
	// proves the agent fetched again rather than rendering a cached token.
	// One more read may have happened after the last observation.
	reads := auditedReads(t, "rsa/creds/"+tc.role)
	if got := tc.watches[0].count(); reads < got || reads > got+1 {
		t.Errorf("audit log has %d creds reads of %s, want %d or %d for %d distinct rendered tokens", reads, tc.role, got, got+1, got)
	}

	t.Logf("agent %q: %d tokens rendered, %d creds reads in the audit log", tc.name, tc.watches[0].count(), reads)
}

// startAgent writes config and runs `vault agent` with it until the test
// ends.
func startAgent(t *testing.T, dir, config string) {
	t.Helper()

	configPath := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatalf("write agent config: %v", err)
	}

	logPath := filepath.Join(dir, "agent.log")

	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create agent log: %v", err)
	}

	cmd := exec.Command(env.vault.bin, "agent", "-config="+configPath, "-log-level=debug")
	cmd.Stdout = logFile
	cmd.Stderr = logFile

	if err := cmd.Start(); err != nil {
		_ = logFile.Close()

		t.Fatalf("start vault agent: %v", err)
	}

	exited := make(chan error, 1)

	go func() {
		exited <- cmd.Wait()
		_ = logFile.Close()
	}()

	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)

		var err error

		select {
		case err = <-exited:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			err = <-exited
		}

		if err != nil {
			t.Logf("vault agent exited: %v", err)
		}

		if t.Failed() {
			dumpLog(logPath)
		}
	})
}

// tokenWatch follows one place a token is rendered to.
type tokenWatch struct {
	name   string
	read   func() (string, error)
	last   string
	tokens []observed
}

func (w *tokenWatch) count() int { return len(w.tokens) }

// poll reads the current token and, when it is new, checks it at once:
// valid by signature and claims, not expired, and accepted by the fake CAS.
func (w *tokenWatch) poll(t *testing.T) {
	t.Helper()

	raw, err := w.read()
	if err != nil {
		t.Fatalf("%s: %v", w.name, err)
	}

	if raw == "" || raw == w.last {
		return
	}

	seen := time.Now()
	w.last = raw

	token, err := verifyToken(raw, &env.helpDesk.PrivateKey.PublicKey, env.helpDesk.AccessID, env.cas.AdminURL(), seen)
	if err != nil {
		t.Fatalf("%s: rendered token #%d at %s: %v", w.name, len(w.tokens)+1, seen.Format(time.RFC3339Nano), err)
	}

	if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs?pageSize=1&pageNumber=0", raw, nil); status != http.StatusOK {
		t.Fatalf("%s: fake CAS refused rendered token #%d: status %d (%s)", w.name, len(w.tokens)+1, status, message)
	}

	w.tokens = append(w.tokens, observed{token: token, seen: seen})
}

// check asserts that each token replaced the previous one before it
// expired, after the share of the lease that threshold predicts. The agent
// waits lease_duration x (threshold +/- 0.05) after a fetch. lease_duration
// is whole seconds, ttl-1 or ttl, because the token's iat is
// truncated to the second. A second of slack covers the render and the
// 50 ms polling. A consumer that gets each token startDelay after its
// render, like the exec child, gets the same gaps but less life left.
func (w *tokenWatch) check(t *testing.T, ttl int, threshold float64, startDelay time.Duration) {
	t.Helper()

	// minLeft is the minimum life a token has left when the next one
	// reaches the consumer: after the latest fetch, the render slack and
	// startDelay.
	minLeft := time.Duration(float64(ttl)*(1-threshold-0.05)*float64(time.Second)) - time.Second - startDelay

	minGap := time.Duration(float64(ttl-1)*(threshold-0.05)*float64(time.Second)) - 500*time.Millisecond
	maxGap := time.Duration(float64(ttl)*(threshold+0.05)*float64(time.Second)) + time.Second

	for i := 1; i < len(w.tokens); i++ {
		prev, next := w.tokens[i-1], w.tokens[i]

		if next.token.id == prev.token.id {
			t.Errorf("%s: token #%d repeats jti of #%d", w.name, i+1, i)
		}

		left := prev.token.expires.Sub(next.seen)
		gap := next.seen.Sub(prev.seen)

		t.Logf("%s: token #%d replaced #%d after %.2fs with %.2fs of its life left (threshold %g)",
			w.name, i+1, i, gap.Seconds(), left.Seconds(), threshold)

		if left <= 0 {
			t.Errorf("%s: token #%d appeared %.2fs after #%d expired", w.name, i+1, -left.Seconds(), i)
		}

		if left < minLeft {
			t.Errorf("%s: token #%d appeared with %.2fs left of #%d, want at least %.2fs for threshold %g", w.name, i+1, left.Seconds(), i, minLeft.Seconds(), threshold)
		}

		if gap < minGap || gap > maxGap {
			t.Errorf("%s: token #%d replaced #%d after %.2fs, want %.2fs to %.2fs for threshold %g", w.name, i+1, i, gap.Seconds(), minGap.Seconds(), maxGap.Seconds(), threshold)
		}
	}
}

// fileReader returns the token in a rendered file that must start with
// prefix, or "" while the file does not exist yet.
func fileReader(path, prefix string) func() (string, error) {
	return func() (string, error) {
		data, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return "", nil
		}

		if err != nil {
			return "", fmt.Errorf("read %s: %w", path, err)
		}

		if len(data) == 0 {
			return "", nil
		}

		token, ok := strings.CutPrefix(string(data), prefix)
		if !ok {
			return "", fmt.Errorf("%s does not start with %q", path, prefix)
		}

		return token, nil
	}
}

// lastLineReader returns the last complete line of a file the exec child
// appends to, or "" while there is none.
func lastLineReader(path string) func() (string, error) {
	return func() (string, error) {
		data, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return "", nil
		}

		if err != nil {
			return "", fmt.Errorf("read %s: %w", path, err)
		}

		end := bytes.LastIndexByte(data, '\n')
		if end < 0 {
			return "", nil
		}

		lines := strings.Split(string(data[:end]), "\n")

		return lines[len(lines)-1], nil
	}
}

// auditedReads counts successful requests to path in the audit log.
func auditedReads(t *testing.T, path string) int {
	t.Helper()

	file, err := os.Open(env.auditPath)
	if err != nil {
		t.Fatalf("open audit log: %v", err)
	}
	defer file.Close()

	var entry struct {
		Type    string `json:"type"`
		Error   string `json:"error"`
		Request struct {
			Path string `json:"path"`
		} `json:"request"`
	}

	count := 0
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)

	for scanner.Scan() {
		line := scanner.Bytes()
		if !bytes.Contains(line, []byte(path)) {
			continue
		}

		entry.Type, entry.Error, entry.Request.Path = "", "", ""

		if err := json.Unmarshal(line, &entry); err != nil {
			t.Fatalf("decode audit entry: %v", err)
		}

		if entry.Type == "response" && entry.Error == "" && entry.Request.Path == path {
			count++
		}
	}

	if err := scanner.Err(); err != nil {
		t.Fatalf("read audit log: %v", err)
	}

	return count
}
