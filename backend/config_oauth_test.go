package backend

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/vault/sdk/logical"
)

const (
	testClientID  = "9d8e7f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	testKeyID     = "kid-2f6b3c1d"
	testIssuerURL = "https://acme.auth.securid.com/oauth"
	testScopes    = "rsa.audit.admin,rsa.user.read"
)

// testECKey is a P-256 key with its encodings.
type testECKey struct {
	private     *ecdsa.PrivateKey
	pkcs8PEM    string
	sec1PEM     string
	fingerprint string
}

var ecKeyA = sync.OnceValue(func() *testECKey {
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("generate EC key: %v", err))
	}

	pkcs8, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		panic(fmt.Sprintf("marshal PKCS#8 key: %v", err))
	}

	sec1, err := x509.MarshalECPrivateKey(private)
	if err != nil {
		panic(fmt.Sprintf("marshal SEC 1 key: %v", err))
	}

	key := &testECKey{
		private:     private,
		pkcs8PEM:    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		sec1PEM:     string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})),
		fingerprint: publicKeyFingerprint(&private.PublicKey),
	}

	registerKeyMaterial(key.pkcs8PEM, key.sec1PEM)

	return key
})

// publicKeyFingerprint computes the fingerprint the backend reports for any
// public key, without package cas.
func publicKeyFingerprint(pub crypto.PublicKey) string {
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

// privateJWK returns key as a private JWK with kid ("" for none), and
// registers its private parameters for leak checks.
func privateJWK(key any, kid string) string {
	data, err := jose.JSONWebKey{Key: key, KeyID: kid}.MarshalJSON()
	if err != nil {
		panic(fmt.Sprintf("marshal JWK: %v", err))
	}

	var params map[string]any
	if err := json.Unmarshal(data, &params); err != nil {
		panic(fmt.Sprintf("decode JWK: %v", err))
	}

	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if value, ok := params[name].(string); ok {
			registerKeyMaterial(value)
		}
	}

	return string(data)
}

// oauthConfigData returns the fields of an OAuth config write on the RSA
// key keyA with testKeyID, with extra fields added or replaced.
func oauthConfigData(issuerURL string, extra map[string]any) map[string]any {
	data := map[string]any{
		"issuer_url":  issuerURL,
		"client_id":   testClientID,
		"private_key": privateJWK(keyA().private, testKeyID),
		"scopes":      testScopes,
	}

	for field, value := range extra {
		data[field] = value
	}

	return data
}

// writeOAuthConfig stores an OAuth config on keyA whose issuer is
// issuerURL.
func (tb *testBackend) writeOAuthConfig(t *testing.T, name, issuerURL string, extra map[string]any) *logical.Response {
	t.Helper()

	return tb.mustWrite(t, "config/"+name, oauthConfigData(issuerURL, extra))
}

func TestOAuthConfigCreate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		fields      map[string]any
		keyType     string
		keyBits     int
		keyCurve    string
		fingerprint string
	}{
		{"rsa jwk", map[string]any{}, "RSA", 2048, "", keyA().fingerprint},
		{"ec jwk", map[string]any{"private_key": privateJWK(ecKeyA().private, testKeyID)}, "EC", 256, "P-256", ecKeyA().fingerprint},
		{"rsa jwk with equal key_id", map[string]any{"key_id": testKeyID}, "RSA", 2048, "", keyA().fingerprint},
		{"jwk set", map[string]any{"private_key": `{"keys":[` + privateJWK(ecKeyA().private, testKeyID) + `]}`}, "EC", 256, "P-256", ecKeyA().fingerprint},
		{"jwk without kid", map[string]any{"private_key": privateJWK(ecKeyA().private, ""), "key_id": testKeyID}, "EC", 256, "P-256", ecKeyA().fingerprint},
		{"pkcs8 pem", map[string]any{"private_key": keyA().pkcs8PEM, "key_id": testKeyID}, "RSA", 2048, "", keyA().fingerprint},
		{"pkcs1 pem", map[string]any{"private_key": keyA().pkcs1PEM, "key_id": testKeyID}, "RSA", 2048, "", keyA().fingerprint},
		{"sec1 pem", map[string]any{"private_key": ecKeyA().sec1PEM, "key_id": testKeyID}, "EC", 256, "P-256", ecKeyA().fingerprint},
		{"scopes as a json array", map[string]any{"scopes": []any{"rsa.audit.admin", "rsa.user.read"}}, "RSA", 2048, "", keyA().fingerprint},
		{"admin_url", map[string]any{"admin_url": testAdminURL}, "RSA", 2048, "", keyA().fingerprint},
		{"explicit kind", map[string]any{"kind": kindOAuth}, "RSA", 2048, "", keyA().fingerprint},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			write := tb.writeOAuthConfig(t, "client", testIssuerURL, tt.fields)
			assertResponseHasNoKeyMaterial(t, write)

			if len(write.Warnings) != 0 {
				t.Errorf("warnings = %q, expected none", write.Warnings)
			}

			read := tb.mustRequest(t, logical.ReadOperation, "config/client", nil)
			assertResponseHasNoKeyMaterial(t, read)

			adminURL, _ := tt.fields["admin_url"].(string)
			created := testStart.UTC().Format(time.RFC3339)

			want := map[string]any{
				"kind":              kindOAuth,
				"issuer_url":        testIssuerURL,
				"token_url":         testIssuerURL + "/token",
				"client_id":         testClientID,
				"key_id":            testKeyID,
				"key_type":          tt.keyType,
				"key_bits":          tt.keyBits,
				"key_curve":         tt.keyCurve,
				"public_key_sha256": tt.fingerprint,
				"admin_url":         adminURL,
				"ca_certificate":    "",
				"created_at":        created,
				"updated_at":        created,
				"key_updated_at":    created,
			}

			for field, value := range want {
				if read.Data[field] != value {
					t.Errorf("%s = %#v, expected %#v", field, read.Data[field], value)
				}
			}

			if scopes, _ := read.Data["scopes"].([]string); strings.Join(scopes, ",") != testScopes {
				t.Errorf("scopes = %#v, expected %s", read.Data["scopes"], testScopes)
			}

			if len(read.Data) != len(want)+1 {
				t.Errorf("read returned fields %v, expected exactly %d", mapKeys(read.Data), len(want)+1)
			}
		})
	}
}

func TestOAuthConfigRejectsBadInput(t *testing.T) {
	t.Parallel()

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatalf("generate P-384 key: %v", err)
	}

	publicJWK, err := jose.JSONWebKey{Key: &keyA().private.PublicKey, KeyID: testKeyID}.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal public JWK: %v", err)
	}

	without := func(field string) map[string]any {
		data := oauthConfigData(testIssuerURL, nil)
		delete(data, field)

		return data
	}

	with := func(field string, value any) map[string]any {
		return oauthConfigData(testIssuerURL, map[string]any{field: value})
	}

	tests := []struct {
		name string
		data map[string]any
		want []string
	}{
		{"issuer_url missing", without("issuer_url"), []string{"issuer_url is missing"}},
		{"client_id missing", without("client_id"), []string{"client_id is missing"}},
		{"private_key missing", without("private_key"), []string{"private_key is missing"}},
		{"scopes missing", without("scopes"), []string{"scopes is missing"}},
		{"only a client_id", map[string]any{"client_id": testClientID}, []string{"issuer_url, private_key, scopes are missing"}},
		{"http issuer", with("issuer_url", "http://acme.auth.securid.com/oauth"), []string{"issuer_url", "uses http"}},
		{"token endpoint as issuer", with("issuer_url", testIssuerURL+"/token"), []string{"issuer_url", "token endpoint"}},
		{"issuer with password", with("issuer_url", "https://u:hunter2@acme.auth.securid.com/oauth"), []string{"issuer_url", "user information"}},
		{"pem in issuer_url", with("issuer_url", keyA().pkcs8PEM), []string{"issuer_url contains a private key"}},
		{"client_id with space", with("client_id", testClientID+" "), []string{"client_id", "a space"}},
		{"client_id with a jwk", with("client_id", privateJWK(ecKeyA().private, testKeyID)), []string{"client_id", "private key"}},
		{"public jwk", with("private_key", string(publicJWK)), []string{"private_key", "public RSA JWK"}},
		{"p-384 jwk", with("private_key", privateJWK(p384, testKeyID)), []string{"private_key", "P-384"}},
		{"1024-bit jwk", with("private_key", privateJWK(key1024().private, testKeyID)), []string{"private_key", "1024-bit"}},
		{"kid mismatch", with("key_id", "another-kid"), []string{"key_id", `"another-kid"`, "does not match the kid"}},
		{"pem without key_id", with("private_key", ecKeyA().pkcs8PEM), []string{"key_id: is missing", "has no kid"}},
		{"legacy key file as private_key", with("private_key", newKeyFile(keyA()).JSON()), []string{"private_key", "kty"}},
		{"empty scopes", with("scopes", ""), []string{"scopes", "at least one scope"}},
		{"scope with U+FFFC", with("scopes", "rsa.audit.admin,rsa.user.read\uFFFC"), []string{"scopes", "U+FFFC"}},
		{"scope with zero-width space", with("scopes", "rsa.\u200baudit.admin"), []string{"scopes", "U+200B"}},
		{"scopes space-separated", with("scopes", []any{"rsa.audit.admin rsa.user.read"}), []string{"scopes", "a space", "scopes=rsa.audit.admin,rsa.user.read"}},
		{"duplicate scope", with("scopes", "rsa.user.read,rsa.audit.admin,rsa.user.read"), []string{"scopes", `"rsa.user.read" twice`}},
		{"empty scope between commas", with("scopes", "rsa.audit.admin,,rsa.user.read"), []string{"scopes", "empty scope at position 2"}},
		{"http admin_url", with("admin_url", "http://acme.access.securid.com/AdminInterface/restapi"), []string{"admin_url", "uses http"}},
		{"unknown kind", with("kind", "saml"), []string{"kind", `"saml"`}},
		{"unknown field", with("scope", "rsa.audit.admin"), []string{"unknown field", "scope"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			resp, err := tb.write(t, "config/client", tt.data)
			message := requireErrorResponse(t, resp, err)

			for _, want := range tt.want {
				if !strings.Contains(message, want) {
					t.Errorf("message %q does not contain %q", message, want)
				}
			}

			if strings.Contains(message, "hunter2") {
				t.Errorf("message %q echoes the password", message)
			}

			if read, err := tb.request(t, logical.ReadOperation, "config/client", nil); err != nil || read != nil {
				t.Errorf("config was stored after a rejected write: %v, %v", read, err)
			}
		})
	}
}

func TestConfigKindMixRejected(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data map[string]any
		want []string
	}{
		{
			"key_file with client_id",
			map[string]any{"key_file": newKeyFile(keyA()).JSON(), "admin_role": adminRoleHelpDesk, "client_id": testClientID},
			[]string{"key_file, admin_role belong to legacy keys", "client_id to OAuth clients"},
		},
		{
			"oauth fields with admin_role",
			oauthConfigData(testIssuerURL, map[string]any{"admin_role": adminRoleHelpDesk}),
			[]string{"admin_role belong to legacy keys", "issuer_url, client_id, private_key, scopes to OAuth clients"},
		},
		{
			"kind legacy with oauth fields",
			oauthConfigData(testIssuerURL, map[string]any{"kind": kindLegacy}),
			[]string{"kind is legacy", "belong to OAuth client configs"},
		},
		{
			"kind oauth with legacy fields",
			map[string]any{"key_file": newKeyFile(keyA()).JSON(), "admin_role": adminRoleHelpDesk, "kind": kindOAuth},
			[]string{"kind is oauth", "belong to legacy key configs"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			resp, err := tb.write(t, "config/mixed", tt.data)
			message := requireErrorResponse(t, resp, err)

			for _, want := range tt.want {
				if !strings.Contains(message, want) {
					t.Errorf("message %q does not contain %q", message, want)
				}
			}
		})
	}
}

func TestConfigKindsSideBySide(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.writeOAuthConfig(t, "client", testIssuerURL, map[string]any{"private_key": privateJWK(ecKeyA().private, testKeyID)})

	list := tb.mustRequest(t, logical.ListOperation, "config/", nil)
	if keys, _ := list.Data["keys"].([]string); strings.Join(keys, ",") != "client,hd" {
		t.Errorf("keys = %q, expected [client hd]", keys)
	}

	for name, kind := range map[string]string{"hd": kindLegacy, "client": kindOAuth} {
		read := tb.mustRequest(t, logical.ReadOperation, "config/"+name, nil)
		if read.Data["kind"] != kind {
			t.Errorf("config %s kind = %v, expected %s", name, read.Data["kind"], kind)
		}
	}

	// An update that names no kind-specific field keeps each config's kind.
	tb.mustWrite(t, "config/hd", map[string]any{"description": "still legacy"})
	tb.mustWrite(t, "config/client", map[string]any{"scopes": "rsa.audit.admin"})

	if read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil); read.Data["kind"] != kindLegacy || read.Data["description"] != "still legacy" {
		t.Errorf("legacy config after update = %v", read.Data)
	}

	read := tb.mustRequest(t, logical.ReadOperation, "config/client", nil)
	if scopes, _ := read.Data["scopes"].([]string); read.Data["kind"] != kindOAuth || strings.Join(scopes, ",") != "rsa.audit.admin" {
		t.Errorf("OAuth config after update: kind %v, scopes %v", read.Data["kind"], read.Data["scopes"])
	}

	if read.Data["public_key_sha256"] != ecKeyA().fingerprint {
		t.Errorf("scopes update changed the key: %v", read.Data["public_key_sha256"])
	}
}

func TestConfigKindChange(t *testing.T) {
	t.Parallel()

	t.Run("legacy to oauth needs kind", func(t *testing.T) {
		t.Parallel()

		tb := newTestBackend(t)
		tb.writeKeyConfig(t, "c", adminRoleHelpDesk, keyA())

		resp, err := tb.write(t, "config/c", oauthConfigData(testIssuerURL, nil))
		message := requireErrorResponse(t, resp, err)

		for _, want := range []string{"holds a legacy key", "kind=oauth"} {
			if !strings.Contains(message, want) {
				t.Errorf("message %q does not contain %q", message, want)
			}
		}

		if read := tb.mustRequest(t, logical.ReadOperation, "config/c", nil); read.Data["kind"] != kindLegacy {
			t.Errorf("kind after a rejected change = %v, expected legacy", read.Data["kind"])
		}
	})

	t.Run("legacy to oauth with kind", func(t *testing.T) {
		t.Parallel()

		tb := newTestBackend(t)
		tb.writeKeyConfig(t, "c", adminRoleHelpDesk, keyA())

		tb.mustWrite(t, "config/c", oauthConfigData(testIssuerURL, map[string]any{"kind": kindOAuth}))

		read := tb.mustRequest(t, logical.ReadOperation, "config/c", nil)
		if read.Data["kind"] != kindOAuth || read.Data["client_id"] != testClientID {
			t.Errorf("read after the change = %v", read.Data)
		}

		for _, field := range []string{"access_id", "admin_role", "admin_rest_api_url"} {
			if _, ok := read.Data[field]; ok {
				t.Errorf("read of the OAuth config still shows legacy field %s", field)
			}
		}

		var stored keyConfig
		entry, err := tb.storage.Get(t.Context(), "config/c")
		if err != nil || entry == nil {
			t.Fatalf("read stored config: %v", err)
		}

		if err := entry.DecodeJSON(&stored); err != nil {
			t.Fatalf("decode stored config: %v", err)
		}

		if stored.AccessID != "" || stored.AdminRole != "" || stored.AdminRestAPIURL != "" {
			t.Errorf("stored config keeps legacy values: access_id %q, admin_role %q", stored.AccessID, stored.AdminRole)
		}
	})

	t.Run("oauth to legacy with kind", func(t *testing.T) {
		t.Parallel()

		tb := newTestBackend(t)
		tb.writeOAuthConfig(t, "c", testIssuerURL, nil)

		tb.mustWrite(t, "config/c", map[string]any{"kind": kindLegacy, "key_file": newKeyFile(keyB()).JSON(), "admin_role": adminRoleSuperAdmin})

		read := tb.mustRequest(t, logical.ReadOperation, "config/c", nil)
		if read.Data["kind"] != kindLegacy || read.Data["public_key_sha256"] != keyB().fingerprint {
			t.Errorf("read after the change = %v", read.Data)
		}
	})

	t.Run("change with roles in use", func(t *testing.T) {
		t.Parallel()

		tb := newTestBackend(t)
		tb.writeKeyConfig(t, "c", adminRoleHelpDesk, keyA())
		tb.writeRole(t, "r1", "c", adminRoleHelpDesk, nil)

		resp, err := tb.write(t, "config/c", oauthConfigData(testIssuerURL, map[string]any{"kind": kindOAuth}))
		message := requireErrorResponse(t, resp, err)

		for _, want := range []string{"cannot change from legacy to oauth", "r1"} {
			if !strings.Contains(message, want) {
				t.Errorf("message %q does not contain %q", message, want)
			}
		}
	})
}

func TestOAuthConfigUpdate(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeOAuthConfig(t, "client", testIssuerURL, nil)

	tb.clock.Advance(time.Hour)
	later := testStart.Add(time.Hour).UTC().Format(time.RFC3339)

	tb.mustWrite(t, "config/client", map[string]any{"admin_url": testAdminURL, "client_id": "new-client"})

	read := tb.mustRequest(t, logical.ReadOperation, "config/client", nil)
	if read.Data["admin_url"] != testAdminURL || read.Data["client_id"] != "new-client" || read.Data["key_updated_at"] == later {
		t.Errorf("read after a field update = %v", read.Data)
	}

	resp, err := tb.write(t, "config/client", map[string]any{"key_id": "other"})
	message := requireErrorResponse(t, resp, err)

	if !strings.Contains(message, "key_id changes only together with private_key") {
		t.Errorf("message %q does not explain that key_id needs private_key", message)
	}

	tb.mustWrite(t, "config/client", map[string]any{"private_key": ecKeyA().pkcs8PEM, "key_id": "kid-2"})

	read = tb.mustRequest(t, logical.ReadOperation, "config/client", nil)

	want := map[string]any{
		"public_key_sha256": ecKeyA().fingerprint,
		"key_id":            "kid-2",
		"key_type":          "EC",
		"key_curve":         "P-256",
		"key_updated_at":    later,
		"created_at":        testStart.UTC().Format(time.RFC3339),
	}

	for field, value := range want {
		if read.Data[field] != value {
			t.Errorf("%s = %#v, expected %#v", field, read.Data[field], value)
		}
	}

	tb.mustWrite(t, "config/client", map[string]any{"admin_url": ""})

	if read := tb.mustRequest(t, logical.ReadOperation, "config/client", nil); read.Data["admin_url"] != "" {
		t.Errorf("admin_url after clearing = %v", read.Data["admin_url"])
	}
}

func TestOAuthConfigScopesDropInUse(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeOAuthConfig(t, "client", testIssuerURL, nil)
	tb.mustWrite(t, "roles/reader", map[string]any{"config": "client", "scopes": "rsa.user.read"})
	tb.mustWrite(t, "roles/auditor", map[string]any{"config": "client", "scopes": "rsa.audit.admin"})

	resp, err := tb.write(t, "config/client", map[string]any{"scopes": "rsa.audit.admin,rsa.user.manage"})
	message := requireErrorResponse(t, resp, err)

	for _, want := range []string{"role reader requests rsa.user.read", "cannot drop"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q does not contain %q", message, want)
		}
	}

	if strings.Contains(message, "auditor") {
		t.Errorf("message %q names role auditor, whose scopes stay granted", message)
	}

	tb.mustWrite(t, "config/client", map[string]any{"scopes": "rsa.user.read,rsa.audit.admin,rsa.user.manage"})
}

func TestOAuthConfigIssuerHostWarning(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	resp := tb.writeOAuthConfig(t, "client", "https://acme.access.securid.com/oauth", nil)

	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "https://acme.auth.securid.com/oauth") {
		t.Errorf("warnings = %q, expected one that suggests the authentication host", resp.Warnings)
	}
}

func TestOAuthConfigDeleteInUse(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeOAuthConfig(t, "client", testIssuerURL, nil)
	tb.mustWrite(t, "roles/reader", map[string]any{"config": "client", "scopes": "rsa.user.read"})

	resp, err := tb.request(t, logical.DeleteOperation, "config/client", nil)
	message := requireErrorResponse(t, resp, err)

	if !strings.Contains(message, "reader") {
		t.Errorf("message %q does not name the role", message)
	}

	tb.mustRequest(t, logical.DeleteOperation, "roles/reader", nil)
	tb.mustRequest(t, logical.DeleteOperation, "config/client", nil)

	list := tb.mustRequest(t, logical.ListOperation, "config/", nil)
	if keys, _ := list.Data["keys"].([]string); slices.Contains(keys, "client") {
		t.Errorf("keys after delete = %q", keys)
	}
}
