//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// failoverLimit is how soon after the active node dies a new active node
// must serve creds.
const failoverLimit = 15 * time.Second

// raftNodeConfig is the server config of one HA node: integrated storage
// with retry_join to the other nodes, a plain-HTTP loopback listener, and
// performance_multiplier = 1, the value HashiCorp recommends for
// production, which keeps Raft's leader election near one second.
const raftNodeConfig = `ui               = false
disable_mlock    = true
plugin_directory = %[1]q
api_addr         = "http://%[2]s"
cluster_addr     = "https://%[3]s"

listener "tcp" {
  address         = %[2]q
  cluster_address = %[3]q
  tls_disable     = true
}

storage "raft" {
  path                   = %[4]q
  node_id                = %[5]q
  performance_multiplier = 1
%[6]s}
`

// credsResult is one creds read of a client that kept reading during the
// failover.
type credsResult struct {
	node    string
	started time.Time
	ended   time.Time
	err     error
}

// TestHARaftFailover runs a three-node Vault cluster on Raft storage with
// the plugin binary in every node's plugin directory. It writes configs and
// roles on the active node, reads creds through a standby, kills the active
// node while clients keep reading, and checks that a new active node serves
// creds within failoverLimit with configs and roles intact. It also checks
// that the key cache follows a config written through another node, before
// and after the failover.
func TestHARaftFailover(t *testing.T) {
	nodes := startRaftCluster(t, 3)
	active := nodes[0]

	active.mustVault(t, "plugin", "register", "-sha256="+env.pluginSHA, "-command="+pluginBinary, "-version="+pluginVersion, "secret", pluginName)
	active.mustVault(t, "secrets", "enable", "-path=rsa", "-plugin-version="+pluginVersion, pluginName)
	active.mustVault(t, "write", "rsa/config/helpdesk-key", "key_file=@"+env.helpDeskPath, "admin_role=help_desk")
	active.mustVault(t, "write", "rsa/config/superadmin-key", "key_file=@"+env.superAdminPath, "admin_role=super_admin")
	active.mustVault(t, "write", "rsa/roles/helpdesk", "config=helpdesk-key", "admin_role=help_desk", "ttl=5m")
	active.mustVault(t, "write", "rsa/roles/superadmin", "config=superadmin-key", "admin_role=super_admin", "ttl=2m")

	// A standby forwards the request to the active node, whose plugin
	// signs it.
	standby := nodes[1]
	issued := haCreds(t, standby, "helpdesk", env.helpDesk)
	haCreds(t, standby, "superadmin", env.superAdmin)

	// Replace the key through the other standby. The next token, read
	// through the first standby, must be signed with the new key, and the
	// token issued before must stay valid at CAS.
	rotated := newRegisteredKeyFile(t, "ha-rotated-1", castest.RoleHelpDesk)
	nodes[2].mustVault(t, "write", "rsa/config/helpdesk-key", "key_file=@"+rotated.path, "admin_role=help_desk")
	haCreds(t, standby, "helpdesk", rotated.keyFile)

	if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs", issued, nil); status != http.StatusOK {
		t.Errorf("token issued before the key was replaced: fake CAS status %d (%s), want 200", status, message)
	}

	before := haSnapshot(t, active)

	// Clients read creds through both standbys, as behind a load balancer,
	// while the active node is killed like a crashed host.
	results, stop := readCredsUntilStopped(nodes[1:], 4, rotated.keyFile)

	time.Sleep(time.Second)

	killed := time.Now()
	active.kill()
	t.Logf("killed active node %s (SIGKILL) at %s", active.name, killed.Format(time.RFC3339Nano))

	var firstOK time.Time

	deadline := killed.Add(failoverLimit)
	for firstOK.IsZero() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)

		firstOK = firstSuccessStartedAfter(results, killed)
	}

	// Keep reading a while longer, so the results show whether both
	// standbys serve again.
	time.Sleep(3 * time.Second)

	all := stop()

	if firstOK.IsZero() {
		firstOK = firstSuccessStartedAfter(results, killed)
	}

	if firstOK.IsZero() {
		t.Fatalf("no creds read succeeded within %s after the active node died", failoverLimit)
	}

	failed, during, lastErr := failoverStats(all, killed, firstOK)
	failover := firstOK.Sub(killed)

	t.Logf("HA failover: failover_seconds=%.2f failed_requests=%d requests_from_kill_to_first_success=%d clients=4 (measured from SIGKILL of the active node to the end of the first successful creds read through a standby that began after it)",
		failover.Seconds(), failed, during)

	if failover > failoverLimit {
		t.Fatalf("no creds read succeeded within %s after the active node died; last error: %v", failoverLimit, lastErr)
	}

	// Every read that began 2 s after the first success must have
	// succeeded, on both surviving nodes.
	for _, result := range all {
		if result.err != nil && result.ended.Before(killed) {
			t.Errorf("creds read through %s failed before the kill: %v", result.node, result.err)
		}

		if result.err != nil && result.started.After(firstOK.Add(2*time.Second)) {
			t.Errorf("creds read through %s at %s failed after the failover settled: %v", result.node, result.started.Format(time.RFC3339Nano), result.err)
		}
	}

	newActive, newStandby := haRoles(t, nodes[1:])
	t.Logf("new active node %s, standby %s", newActive.name, newStandby.name)

	// The new active node runs the plugin from its own plugin directory.
	onePluginPID(t, newActive.pluginDir)

	if after := haSnapshot(t, newActive); after != before {
		t.Errorf("configs and roles changed across the failover:\nbefore %s\nafter  %s", before, after)
	}

	haCreds(t, newStandby, "helpdesk", rotated.keyFile)
	haCreds(t, newActive, "superadmin", env.superAdmin)

	// The new active node's cache must follow a key written through the
	// standby too.
	again := newRegisteredKeyFile(t, "ha-rotated-2", castest.RoleHelpDesk)
	newStandby.mustVault(t, "write", "rsa/config/helpdesk-key", "key_file=@"+again.path, "admin_role=help_desk")
	haCreds(t, newActive, "helpdesk", again.keyFile)
	haCreds(t, newStandby, "helpdesk", again.keyFile)

	// The crashed node comes back from its Raft data as a standby and
	// serves creds with the key written while it was down.
	active.start(t)
	active.unseal(t)

	if _, err := active.waitHealth(60*time.Second, func(status int) bool { return status == http.StatusTooManyRequests }); err != nil {
		t.Fatal(err)
	}

	waitLeaderKnown(t, active)
	haCreds(t, active, "helpdesk", again.keyFile)
}

// waitLeaderKnown waits until a standby has the active node's address,
// which it needs to forward requests. A standby that has just started
// responds with "active cluster node not found" until then.
func waitLeaderKnown(t *testing.T, n *node) {
	t.Helper()

	deadline := time.Now().Add(30 * time.Second)

	for {
		resp := n.mustAPI(t, http.MethodGet, "sys/leader", nil, http.StatusOK)
		if address, _ := resp.body["leader_address"].(string); address != "" {
			return
		}

		if time.Now().After(deadline) {
			t.Fatalf("%s: sys/leader shows no leader address after 30s", n.name)
		}

		time.Sleep(200 * time.Millisecond)
	}
}

// startRaftCluster starts count nodes, initializes and unseals the first,
// and lets the others join it through retry_join and unseal them.
func startRaftCluster(t *testing.T, count int) []*node {
	t.Helper()

	parent := t.TempDir()

	apiAddrs := make([]string, count)
	clusterAddrs := make([]string, count)

	for i := range count {
		var err error

		if apiAddrs[i], err = freeLoopbackAddr(); err != nil {
			t.Fatal(err)
		}

		if clusterAddrs[i], err = freeLoopbackAddr(); err != nil {
			t.Fatal(err)
		}
	}

	nodes := make([]*node, count)

	for i := range count {
		name := fmt.Sprintf("node%d", i+1)
		dir, pluginDir := nodeDirs(t, parent, name)

		raftDir := filepath.Join(dir, "raft")
		if err := os.Mkdir(raftDir, 0o700); err != nil {
			t.Fatalf("create %s: %v", raftDir, err)
		}

		var joins strings.Builder

		for j, addr := range apiAddrs {
			if j != i {
				fmt.Fprintf(&joins, "  retry_join {\n    leader_api_addr = \"http://%s\"\n  }\n", addr)
			}
		}

		config := fmt.Sprintf(raftNodeConfig, pluginDir, apiAddrs[i], clusterAddrs[i], raftDir, name, joins.String())
		nodes[i] = newNode(t, name, dir, pluginDir, apiAddrs[i], config)

		if i == 0 {
			nodes[0].initialize(t)

			if _, err := nodes[0].waitHealth(60*time.Second, func(status int) bool { return status == http.StatusOK }); err != nil {
				t.Fatal(err)
			}

			continue
		}

		nodes[i].unsealKey = nodes[0].unsealKey
		nodes[i].token = nodes[0].token
		nodes[i].unseal(t)

		if _, err := nodes[i].waitHealth(60*time.Second, func(status int) bool { return status == http.StatusTooManyRequests }); err != nil {
			t.Fatal(err)
		}
	}

	waitVoters(t, nodes[0], count)

	return nodes
}

// waitVoters waits until the Raft configuration has count voters. Autopilot
// makes a joined node a voter only after it has been healthy for its
// server stabilization time (10 s by default). Before that, losing the
// leader loses the quorum.
func waitVoters(t *testing.T, n *node, count int) {
	t.Helper()

	deadline := time.Now().Add(60 * time.Second)

	for {
		resp := n.mustAPI(t, http.MethodGet, "sys/storage/raft/configuration", nil, http.StatusOK)
		config, _ := resp.data()["config"].(map[string]any)
		servers, _ := config["servers"].([]any)

		voters := 0

		for _, server := range servers {
			if fields, _ := server.(map[string]any); fields["voter"] == true {
				voters++
			}
		}

		if voters == count {
			t.Logf("raft: %d voters", voters)

			return
		}

		if time.Now().After(deadline) {
			t.Fatalf("raft has %d voters of %d servers after 60s, want %d", voters, len(servers), count)
		}

		time.Sleep(250 * time.Millisecond)
	}
}

// registeredKeyFile is a key file on disk whose key the fake CAS accepts.
type registeredKeyFile struct {
	keyFile *castest.KeyFile
	path    string
}

func newRegisteredKeyFile(t *testing.T, name, role string) registeredKeyFile {
	t.Helper()

	keyFile, err := castest.NewKeyFile(env.cas.AdminURL(), "E2E Tenant", name)
	if err != nil {
		t.Fatal(err)
	}

	if err := env.cas.RegisterKey(keyFile.Key(env.cas.AdminURL(), role)); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}

	path := filepath.Join(t.TempDir(), name+".key")
	if err := os.WriteFile(path, keyFile.JSON, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}

	return registeredKeyFile{keyFile: keyFile, path: path}
}

// haCreds reads creds of role through n, checks that the token is signed
// with keyFile's key and accepted by the fake CAS, and returns it.
func haCreds(t *testing.T, n *node, role string, keyFile *castest.KeyFile) string {
	t.Helper()

	// Redirects are not followed, so a 200 shows that the node itself
	// responded: a standby that forwarded the request rather than sending
	// the client to the active node.
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	req, err := http.NewRequest(http.MethodGet, n.addr+"/v1/rsa/creds/"+role, nil)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}

	req.Header.Set("X-Vault-Token", n.token)

	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("creds of %s through %s: %v", role, n.name, err)
	}
	defer resp.Body.Close()

	var decoded struct {
		Data   map[string]any `json:"data"`
		Errors []string       `json:"errors"`
	}

	if err := json.NewDecoder(resp.Body).Decode(&decoded); err != nil && resp.StatusCode == http.StatusOK {
		t.Fatalf("creds of %s through %s: decode response: %v", role, n.name, err)
	}

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("creds of %s through %s: status %d, want 200; errors: %s", role, n.name, resp.StatusCode, strings.Join(decoded.Errors, "; "))
	}

	raw, _ := decoded.Data["token"].(string)

	if _, err := verifyToken(raw, &keyFile.PrivateKey.PublicKey, keyFile.AccessID, env.cas.AdminURL(), time.Now()); err != nil {
		t.Fatalf("creds of %s through %s: %v", role, n.name, err)
	}

	if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs", raw, nil); status != http.StatusOK {
		t.Fatalf("creds of %s through %s: fake CAS status %d (%s)", role, n.name, status, message)
	}

	return raw
}

// haSnapshot returns the configs and roles as the API reads them, to
// compare before and after a failover.
func haSnapshot(t *testing.T, n *node) string {
	t.Helper()

	var parts []string

	for _, path := range []string{"rsa/config", "rsa/roles"} {
		list := n.mustAPI(t, "LIST", path, nil, http.StatusOK)
		keys, _ := list.data()["keys"].([]any)

		for _, key := range keys {
			item := n.mustAPI(t, http.MethodGet, fmt.Sprintf("%s/%v", path, key), nil, http.StatusOK)

			encoded, err := json.Marshal(item.data())
			if err != nil {
				t.Fatalf("encode %s/%v: %v", path, key, err)
			}

			parts = append(parts, fmt.Sprintf("%s/%v=%s", path, key, encoded))
		}
	}

	return strings.Join(parts, "\n")
}

// haRoles waits until one of nodes is active and returns it and another.
func haRoles(t *testing.T, nodes []*node) (*node, *node) {
	t.Helper()

	deadline := time.Now().Add(15 * time.Second)

	for time.Now().Before(deadline) {
		for i, n := range nodes {
			if status, err := n.health(); err == nil && status == http.StatusOK {
				return n, nodes[(i+1)%len(nodes)]
			}
		}

		time.Sleep(100 * time.Millisecond)
	}

	t.Fatal("no surviving node is active")

	return nil, nil
}

// readCredsUntilStopped starts clients that read creds of the helpdesk role
// in a loop, client i through nodes[i % len(nodes)], and checks every token
// against keyFile. stop ends them and returns every result.
func readCredsUntilStopped(nodes []*node, clients int, keyFile *castest.KeyFile) (*resultLog, func() []credsResult) {
	log := &resultLog{}
	done := make(chan struct{})

	var wg sync.WaitGroup

	for i := range clients {
		n := nodes[i%len(nodes)]

		wg.Go(func() {
			client := &http.Client{Timeout: 2 * time.Second}

			for {
				select {
				case <-done:
					return
				default:
				}

				result := credsResult{node: n.name, started: time.Now()}
				result.err = readOneCreds(client, n, keyFile)
				result.ended = time.Now()

				log.add(result)

				if result.err != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}

	return log, func() []credsResult {
		close(done)
		wg.Wait()

		return log.all()
	}
}

// readOneCreds reads creds of the helpdesk role through n and checks the
// token's signature and claims.
func readOneCreds(client *http.Client, n *node, keyFile *castest.KeyFile) error {
	req, err := http.NewRequest(http.MethodGet, n.addr+"/v1/rsa/creds/helpdesk", nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}

	req.Header.Set("X-Vault-Token", n.token)

	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("read creds: %w", err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}

	var decoded struct {
		Data   map[string]any `json:"data"`
		Errors []string       `json:"errors"`
	}

	if err := json.Unmarshal(body, &decoded); err != nil {
		return fmt.Errorf("status %d, undecodable body: %w", resp.StatusCode, err)
	}

	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.Join(decoded.Errors, "; "))
	}

	raw, _ := decoded.Data["token"].(string)

	_, err = verifyToken(raw, &keyFile.PrivateKey.PublicKey, keyFile.AccessID, env.cas.AdminURL(), time.Now())

	return err
}

// resultLog collects the results of concurrent clients.
type resultLog struct {
	mu      sync.Mutex
	results []credsResult
}

func (l *resultLog) add(result credsResult) {
	l.mu.Lock()
	l.results = append(l.results, result)
	l.mu.Unlock()
}

func (l *resultLog) all() []credsResult {
	l.mu.Lock()
	defer l.mu.Unlock()

	return append([]credsResult(nil), l.results...)
}

// failoverStats counts the reads that failed after the kill, and all reads
// that ended between the kill and the first success.
func failoverStats(results []credsResult, killed, firstOK time.Time) (int, int, error) {
	failed, during := 0, 0

	var lastErr error

	for _, result := range results {
		if result.ended.Before(killed) {
			continue
		}

		if result.err != nil {
			failed++
			lastErr = result.err
		}

		if firstOK.IsZero() || !result.ended.After(firstOK) {
			during++
		}
	}

	return failed, during, lastErr
}
