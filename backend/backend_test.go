package backend

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
)

// Mount TTLs that Vault gives a mount when neither the server config nor a
// tune sets them.
const (
	vaultDefaultLeaseTTL = 768 * time.Hour
	vaultMaxLeaseTTL     = 768 * time.Hour
)

// testStart has a sub-second part, so a lease measured from the clock differs
// from one measured from the JWT's whole-second iat.
var testStart = time.Date(2025, time.June, 14, 12, 0, 0, 400_000_000, time.UTC)

const (
	testAccessID     = "4f0c2b8e-3d55-4a43-9a5e-1c7f6f7d2a10"
	testAdminURL     = "https://acme.access.securid.com/AdminInterface/restapi"
	testCustomerName = "Acme Corp"
	testDescription  = "Vault integration"
)

// testKey is an RSA key in the encodings a key file can carry it in.
type testKey struct {
	private     *rsa.PrivateKey
	pkcs1PEM    string
	pkcs8PEM    string
	fingerprint string
}

// generatedKeyPEMs lists the PEM text of every private key the tests made,
// so leak checks can look for all of them.
var generatedKeyPEMs struct {
	sync.Mutex
	pems []string
}

// RSA key generation takes tens of milliseconds, so each key is made once
// per test binary and shared.
var (
	keyA      = sync.OnceValue(func() *testKey { return newTestKey(2048) })
	keyB      = sync.OnceValue(func() *testKey { return newTestKey(2048) })
	key1024   = sync.OnceValue(func() *testKey { return newTestKey(1024) })
	ecKeyPEMs = sync.OnceValue(newECKeyPEMs)
)

func newTestKey(bits int) *testKey {
	private, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(fmt.Sprintf("generate %d-bit RSA key: %v", bits, err))
	}

	pkcs8, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		panic(fmt.Sprintf("marshal PKCS#8 key: %v", err))
	}

	key := &testKey{
		private:     private,
		pkcs1PEM:    string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(private)})),
		pkcs8PEM:    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		fingerprint: publicKeySHA256(&private.PublicKey),
	}

	registerKeyMaterial(key.pkcs1PEM, key.pkcs8PEM)

	return key
}

// ecKeys holds one P-256 key as SEC 1 ("EC PRIVATE KEY") and PKCS#8 PEM.
type ecKeys struct {
	sec1PEM  string
	pkcs8PEM string
}

func newECKeyPEMs() ecKeys {
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("generate EC key: %v", err))
	}

	sec1, err := x509.MarshalECPrivateKey(private)
	if err != nil {
		panic(fmt.Sprintf("marshal SEC 1 key: %v", err))
	}

	pkcs8, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		panic(fmt.Sprintf("marshal PKCS#8 key: %v", err))
	}

	keys := ecKeys{
		sec1PEM:  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})),
		pkcs8PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}

	registerKeyMaterial(keys.sec1PEM, keys.pkcs8PEM)

	return keys
}

// registerKeyMaterial records the PEM texts for leak checks.
func registerKeyMaterial(pems ...string) {
	generatedKeyPEMs.Lock()
	defer generatedKeyPEMs.Unlock()

	generatedKeyPEMs.pems = append(generatedKeyPEMs.pems, pems...)
}

// keyMaterial returns strings whose presence in any output means private
// key material leaked: every base64 line, at least 16 characters long, of
// every key generated so far. The PEM label is not among them, because
// error messages name it when they describe the expected input.
func keyMaterial() []string {
	generatedKeyPEMs.Lock()
	defer generatedKeyPEMs.Unlock()

	var material []string

	for _, text := range generatedKeyPEMs.pems {
		for _, line := range strings.Split(text, "\n") {
			// Short last lines could match unrelated text by chance.
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				material = append(material, line)
			}
		}
	}

	return material
}

// assertNoKeyMaterial fails the test when text contains private key
// material. where names the text in the failure message.
func assertNoKeyMaterial(t *testing.T, where, text string) {
	t.Helper()

	for _, secret := range keyMaterial() {
		if strings.Contains(text, secret) {
			t.Errorf("%s contains private key material %.24q...", where, secret)

			return
		}
	}
}

// assertResponseHasNoKeyMaterial checks every data value and warning of a
// successful response, including for a PEM label.
func assertResponseHasNoKeyMaterial(t *testing.T, resp *logical.Response) {
	t.Helper()

	if resp == nil {
		return
	}

	for name, value := range resp.Data {
		text := fmt.Sprint(value)
		if strings.Contains(text, "PRIVATE KEY") {
			t.Errorf("response data %q contains a PEM private key label", name)
		}

		assertNoKeyMaterial(t, fmt.Sprintf("response data %q", name), text)
	}

	for i, warning := range resp.Warnings {
		assertNoKeyMaterial(t, fmt.Sprintf("response warning %d", i), warning)
	}
}

// publicKeySHA256 computes the fingerprint the backend reports, without
// using package cas: SHA-256 of the SubjectPublicKeyInfo DER, as
// colon-separated lowercase hex.
func publicKeySHA256(pub *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("marshal public key: %v", err))
	}

	sum := sha256.Sum256(der)
	digits := hex.EncodeToString(sum[:])

	pairs := make([]string, 0, len(sum))
	for i := 0; i < len(digits); i += 2 {
		pairs = append(pairs, digits[i:i+2])
	}

	return strings.Join(pairs, ":")
}

// keyFile is a legacy Administration API key file with the field names the
// RSA console writes.
type keyFile struct {
	AccessID        string `json:"accessID"`
	AccessKey       string `json:"accessKey"`
	AdminRestAPIURL string `json:"adminRestApiUrl"`
	CustomerName    string `json:"customerName"`
	Description     string `json:"description"`
}

func newKeyFile(key *testKey) keyFile {
	return keyFile{
		AccessID:        testAccessID,
		AccessKey:       key.pkcs1PEM,
		AdminRestAPIURL: testAdminURL,
		CustomerName:    testCustomerName,
		Description:     testDescription,
	}
}

// JSON returns the file as the console writes it: one JSON object whose PEM
// line breaks are \n escapes.
func (f keyFile) JSON() string {
	data, err := json.Marshal(f)
	if err != nil {
		panic(fmt.Sprintf("marshal key file: %v", err))
	}

	return string(data)
}

// fields returns the file as a map, for tests that add, drop or retype
// fields.
func (f keyFile) fields() map[string]any {
	return map[string]any{
		"accessID":        f.AccessID,
		"accessKey":       f.AccessKey,
		"adminRestApiUrl": f.AdminRestAPIURL,
		"customerName":    f.CustomerName,
		"description":     f.Description,
	}
}

func marshalJSON(value any) string {
	data, err := json.Marshal(value)
	if err != nil {
		panic(fmt.Sprintf("marshal JSON: %v", err))
	}

	return string(data)
}

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.now = c.now.Add(d)
}

// lockedBuffer collects log output from concurrent requests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

// testSetup configures newTestBackendWith. Zero values mean Vault's defaults
// and fresh in-memory storage.
type testSetup struct {
	defaultLeaseTTL time.Duration
	maxLeaseTTL     time.Duration
	storage         logical.Storage
}

// testBackend is a backend built by Factory with its storage, clock and
// captured logs.
type testBackend struct {
	*backend

	storage logical.Storage
	clock   *testClock
	logs    *lockedBuffer
}

func newTestBackend(t *testing.T) *testBackend {
	t.Helper()

	return newTestBackendWith(t, testSetup{})
}

// newTestBackendWith builds a backend the way Vault does. When the test
// ends, it fails the test if the backend logged private key material.
func newTestBackendWith(t *testing.T, setup testSetup) *testBackend {
	t.Helper()

	if setup.defaultLeaseTTL == 0 {
		setup.defaultLeaseTTL = vaultDefaultLeaseTTL
	}

	if setup.maxLeaseTTL == 0 {
		setup.maxLeaseTTL = vaultMaxLeaseTTL
	}

	if setup.storage == nil {
		setup.storage = &logical.InmemStorage{}
	}

	clock := &testClock{now: testStart}
	logs := &lockedBuffer{}

	conf := logical.TestBackendConfig()
	conf.StorageView = setup.storage
	conf.System = &logical.StaticSystemView{
		DefaultLeaseTTLVal: setup.defaultLeaseTTL,
		MaxLeaseTTLVal:     setup.maxLeaseTTL,
		// Root help reads the Vault version for the OpenAPI document.
		PluginEnvironment: &logical.PluginEnvironment{VaultVersion: "1.20.0"},
	}
	conf.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace})

	raw, err := Factory(Options{Version: "v0.0.0-test", Now: clock.Now})(t.Context(), conf)
	if err != nil {
		t.Fatalf("Factory: %v", err)
	}

	b, ok := raw.(*backend)
	if !ok {
		t.Fatalf("Factory returned %T, expected *backend", raw)
	}

	t.Cleanup(func() {
		assertNoKeyMaterial(t, "backend log", logs.String())
	})

	return &testBackend{backend: b, storage: setup.storage, clock: clock, logs: logs}
}

// request sends one request with the backend's storage, as Vault's router
// does.
func (tb *testBackend) request(t *testing.T, op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	t.Helper()

	return tb.HandleRequest(t.Context(), &logical.Request{
		Operation: op,
		Path:      path,
		Storage:   tb.storage,
		Data:      data,
	})
}

// write sends a write the way Vault does: it runs the path's existence
// check and sends CreateOperation for a new entry, else UpdateOperation.
func (tb *testBackend) write(t *testing.T, path string, data map[string]any) (*logical.Response, error) {
	t.Helper()

	req := &logical.Request{Operation: logical.UpdateOperation, Path: path, Storage: tb.storage, Data: data}

	checkFound, exists, err := tb.HandleExistenceCheck(t.Context(), req)
	if err != nil {
		return nil, err
	}

	if checkFound && !exists {
		req.Operation = logical.CreateOperation
	}

	return tb.HandleRequest(t.Context(), req)
}

// mustWrite writes and fails the test unless the write succeeded.
func (tb *testBackend) mustWrite(t *testing.T, path string, data map[string]any) *logical.Response {
	t.Helper()

	resp, err := tb.write(t, path, data)
	requireSuccess(t, "write "+path, resp, err)

	return resp
}

// mustRequest sends a request and fails the test unless it succeeded.
func (tb *testBackend) mustRequest(t *testing.T, op logical.Operation, path string, data map[string]any) *logical.Response {
	t.Helper()

	resp, err := tb.request(t, op, path, data)
	requireSuccess(t, fmt.Sprintf("%s %s", op, path), resp, err)

	return resp
}

func requireSuccess(t *testing.T, action string, resp *logical.Response, err error) {
	t.Helper()

	if err != nil {
		t.Fatalf("%s: unexpected error: %v", action, err)
	}

	if resp.IsError() {
		t.Fatalf("%s: unexpected error response: %v", action, resp.Error())
	}
}

// requireErrorResponse fails the test unless the backend returned an error
// response, which Vault sends as HTTP 400. It returns the message after
// checking that it contains no key material.
func requireErrorResponse(t *testing.T, resp *logical.Response, err error) string {
	t.Helper()

	if err != nil {
		t.Fatalf("expected an error response, got error %v", err)
	}

	if !resp.IsError() {
		t.Fatalf("expected an error response, got %s", describeResponse(resp))
	}

	message := resp.Error().Error()
	assertNoKeyMaterial(t, "error message", message)

	return message
}

// describeResponse names the fields and warnings of resp without their
// values, because a creds response carries a bearer token that must not
// reach test output.
func describeResponse(resp *logical.Response) string {
	if resp == nil {
		return "no response"
	}

	fields := slices.Sorted(maps.Keys(resp.Data))

	return fmt.Sprintf("a response with fields %v, warnings %q and lease %t", fields, resp.Warnings, resp.Secret != nil)
}

// writeKeyConfig stores key as config name with the given admin role.
func (tb *testBackend) writeKeyConfig(t *testing.T, name, adminRole string, key *testKey) {
	t.Helper()

	tb.mustWrite(t, "config/"+name, map[string]any{
		"key_file":   newKeyFile(key).JSON(),
		"admin_role": adminRole,
	})
}

// writeRole stores a role; extra adds fields such as ttl.
func (tb *testBackend) writeRole(t *testing.T, name, config, adminRole string, extra map[string]any) {
	t.Helper()

	data := map[string]any{"config": config, "admin_role": adminRole}
	for field, value := range extra {
		data[field] = value
	}

	tb.mustWrite(t, "roles/"+name, data)
}

// jwtParts is a decoded JWT whose numbers are kept as json.Number, so a
// test can tell integers from fractions.
type jwtParts struct {
	header map[string]any
	claims map[string]any
}

// verifyJWT checks the RS256 signature of raw with pub, independently of
// the library that signed it, and returns the decoded header and claims.
func verifyJWT(t *testing.T, raw string, pub *rsa.PublicKey) jwtParts {
	t.Helper()

	segments := strings.Split(raw, ".")
	if len(segments) != 3 {
		t.Fatalf("token has %d segments, expected 3", len(segments))
	}

	signature, err := base64.RawURLEncoding.DecodeString(segments[2])
	if err != nil {
		t.Fatalf("decode signature: %v", err)
	}

	digest := sha256.Sum256([]byte(segments[0] + "." + segments[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], signature); err != nil {
		t.Fatalf("token signature does not verify with the expected public key: %v", err)
	}

	return jwtParts{
		header: decodeJWTSegment(t, "header", segments[0]),
		claims: decodeJWTSegment(t, "claims", segments[1]),
	}
}

// signedBy reports whether raw carries a valid RS256 signature by pub.
func signedBy(raw string, pub *rsa.PublicKey) bool {
	segments := strings.Split(raw, ".")
	if len(segments) != 3 {
		return false
	}

	signature, err := base64.RawURLEncoding.DecodeString(segments[2])
	if err != nil {
		return false
	}

	digest := sha256.Sum256([]byte(segments[0] + "." + segments[1]))

	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], signature) == nil
}

func decodeJWTSegment(t *testing.T, name, segment string) map[string]any {
	t.Helper()

	data, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}

	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()

	var values map[string]any
	if err := decoder.Decode(&values); err != nil {
		t.Fatalf("parse %s %s: %v", name, data, err)
	}

	return values
}

// integerClaim returns a claim that must be an integer JSON number.
func integerClaim(t *testing.T, claims map[string]any, name string) int64 {
	t.Helper()

	number, ok := claims[name].(json.Number)
	if !ok {
		t.Fatalf("claim %s is %T %v, expected a JSON number", name, claims[name], claims[name])
	}

	value, err := number.Int64()
	if err != nil {
		t.Fatalf("claim %s = %s is not an integer: %v", name, number, err)
	}

	return value
}

func TestFactorySetsUpBackend(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	if tb.Type() != logical.TypeLogical {
		t.Errorf("Type() = %v, expected %v", tb.Type(), logical.TypeLogical)
	}

	if tb.PluginVersion().Version != "v0.0.0-test" {
		t.Errorf("PluginVersion() = %q, expected the Options.Version", tb.PluginVersion().Version)
	}
}

func TestSealWrapStorageCoversConfig(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	if !slices.Contains(tb.SpecialPaths().SealWrapStorage, "config/") {
		t.Errorf("SealWrapStorage = %q, expected it to contain config/", tb.SpecialPaths().SealWrapStorage)
	}
}

func TestCleanDropsCachedKeys(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)
	tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

	if tb.signers.len() != 1 {
		t.Fatalf("cached keys after a creds read = %d, expected 1", tb.signers.len())
	}

	tb.Cleanup(context.Background())

	if tb.signers.len() != 0 {
		t.Errorf("cached keys after Cleanup = %d, expected 0", tb.signers.len())
	}
}

func TestHelpForEveryPath(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	// Root help also builds the OpenAPI document from every path's schema.
	for _, path := range []string{"", "config/hd", "config/", "roles/reader", "roles/", "creds/reader", "verify/reader"} {
		resp, err := tb.request(t, logical.HelpOperation, path, nil)
		if err != nil {
			t.Errorf("help %q: %v", path, err)

			continue
		}

		if resp == nil || resp.Data["help"] == "" {
			t.Errorf("help %q returned no help text", path)
		}
	}

	if strings.Contains(tb.logs.String(), "error generating OpenAPI") {
		t.Errorf("OpenAPI generation logged an error:\n%s", tb.logs.String())
	}
}
