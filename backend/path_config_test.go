package backend

import (
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// oneLinePEM flattens a PEM block onto one line, joining its lines with sep.
func oneLinePEM(text, sep string) string {
	return strings.Join(strings.Split(strings.TrimSpace(text), "\n"), sep)
}

func TestConfigCreateFromKeyFile(t *testing.T) {
	t.Parallel()

	key := keyA()

	withAccessKey := func(accessKey string) string {
		kf := newKeyFile(key)
		kf.AccessKey = accessKey

		return kf.JSON()
	}

	indented, err := json.MarshalIndent(newKeyFile(key), "", "  ")
	if err != nil {
		t.Fatalf("marshal key file: %v", err)
	}

	tests := []struct {
		name    string
		keyFile string
	}{
		{"pkcs1", newKeyFile(key).JSON()},
		{"pkcs8", withAccessKey(key.pkcs8PEM)},
		{"byte order mark", "\uFEFF" + newKeyFile(key).JSON()},
		{"surrounding whitespace", "\n  " + newKeyFile(key).JSON() + "\n\n"},
		{"literal backslash-n", withAccessKey(strings.ReplaceAll(key.pkcs1PEM, "\n", `\n`))},
		{"pkcs8 literal backslash-n", withAccessKey(strings.ReplaceAll(key.pkcs8PEM, "\n", `\n`))},
		{"crlf in key", withAccessKey(strings.ReplaceAll(key.pkcs1PEM, "\n", "\r\n"))},
		{"crlf file", strings.ReplaceAll(string(indented), "\n", "\r\n")},
		{"one-line pem with spaces", withAccessKey(oneLinePEM(key.pkcs1PEM, " "))},
		{"one-line pem without spaces", withAccessKey(oneLinePEM(key.pkcs1PEM, ""))},
		{"one-line pkcs8", withAccessKey(oneLinePEM(key.pkcs8PEM, " "))},
		{"raw line breaks in json", strings.ReplaceAll(newKeyFile(key).JSON(), `\n`, "\n")},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			resp, err := tb.write(t, "config/hd", map[string]any{
				"key_file":   tt.keyFile,
				"admin_role": adminRoleHelpDesk,
			})
			requireSuccess(t, "write config", resp, err)
			assertResponseHasNoKeyMaterial(t, resp)

			if len(resp.Warnings) != 0 {
				t.Errorf("warnings = %q, expected none", resp.Warnings)
			}

			read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)

			if got := read.Data["public_key_sha256"]; got != key.fingerprint {
				t.Errorf("public_key_sha256 = %v, expected %s", got, key.fingerprint)
			}

			if got := read.Data["key_bits"]; got != 2048 {
				t.Errorf("key_bits = %v, expected 2048", got)
			}

			if got := read.Data["access_id"]; got != testAccessID {
				t.Errorf("access_id = %v, expected %s", got, testAccessID)
			}
		})
	}
}

func TestConfigKeyFileUnknownFieldsWarn(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	fields := newKeyFile(keyA()).fields()
	fields["keyType"] = "RSA"
	fields["createdAt"] = "2025-06-01T10:00:00Z"

	resp, err := tb.write(t, "config/hd", map[string]any{
		"key_file":   marshalJSON(fields),
		"admin_role": adminRoleHelpDesk,
	})
	requireSuccess(t, "write config", resp, err)
	assertResponseHasNoKeyMaterial(t, resp)

	if len(resp.Warnings) != 1 {
		t.Fatalf("warnings = %q, expected exactly one", resp.Warnings)
	}

	for _, field := range []string{"createdAt", "keyType"} {
		if !strings.Contains(resp.Warnings[0], field) {
			t.Errorf("warning %q does not name the ignored field %s", resp.Warnings[0], field)
		}
	}

	if got := resp.Data["public_key_sha256"]; got != keyA().fingerprint {
		t.Errorf("public_key_sha256 = %v, expected the key file's key", got)
	}
}

func TestConfigCreateFromFields(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		accessKey string
	}{
		{"pkcs1", keyA().pkcs1PEM},
		{"pkcs8", keyA().pkcs8PEM},
		{"literal backslash-n", strings.ReplaceAll(keyA().pkcs1PEM, "\n", `\n`)},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			resp := tb.mustWrite(t, "config/sa", map[string]any{
				"access_id":          testAccessID,
				"access_key":         tt.accessKey,
				"admin_rest_api_url": testAdminURL,
				"customer_name":      testCustomerName,
				"description":        testDescription,
				"admin_role":         adminRoleSuperAdmin,
			})
			assertResponseHasNoKeyMaterial(t, resp)

			read := tb.mustRequest(t, logical.ReadOperation, "config/sa", nil)

			want := map[string]any{
				"access_id":          testAccessID,
				"admin_rest_api_url": testAdminURL,
				"customer_name":      testCustomerName,
				"description":        testDescription,
				"admin_role":         adminRoleSuperAdmin,
				"key_bits":           2048,
				"public_key_sha256":  keyA().fingerprint,
			}

			for field, value := range want {
				if read.Data[field] != value {
					t.Errorf("%s = %v, expected %v", field, read.Data[field], value)
				}
			}
		})
	}
}

func TestConfigReadReturnsFields(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		url  string
	}{
		{"base url", "https://acme.access.securid.com/AdminInterface/restapi"},
		{"trailing slash", "https://acme.access.securid.com/AdminInterface/restapi/"},
		{"v1 suffix", "https://acme.access.securid.com/AdminInterface/restapi/v1"},
		{"http loopback ipv4", "http://127.0.0.1:8443/AdminInterface/restapi"},
		{"http loopback ipv6", "http://[::1]:8443/AdminInterface/restapi/"},
		{"http localhost", "http://localhost:8443/AdminInterface/restapi"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			kf := newKeyFile(keyA())
			kf.AdminRestAPIURL = tt.url
			tb.mustWrite(t, "config/hd", map[string]any{"key_file": kf.JSON(), "admin_role": adminRoleHelpDesk})

			read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)

			created := testStart.UTC().Format(time.RFC3339)
			want := map[string]any{
				"kind":               kindLegacy,
				"access_id":          testAccessID,
				"admin_rest_api_url": tt.url,
				"customer_name":      testCustomerName,
				"description":        testDescription,
				"admin_role":         adminRoleHelpDesk,
				"key_bits":           2048,
				"public_key_sha256":  keyA().fingerprint,
				"created_at":         created,
				"updated_at":         created,
				"key_updated_at":     created,
				"ca_certificate":     "",
			}

			for field, value := range want {
				if read.Data[field] != value {
					t.Errorf("%s = %#v, expected %#v", field, read.Data[field], value)
				}
			}

			if len(read.Data) != len(want) {
				t.Errorf("read returned fields %v, expected exactly %d", mapKeys(read.Data), len(want))
			}
		})
	}
}

func mapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}

	return keys
}

func TestConfigReadHidesPrivateKey(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data map[string]any
	}{
		{"pkcs1 key file", map[string]any{"key_file": newKeyFile(keyA()).JSON()}},
		{"pkcs8 key file", map[string]any{"key_file": func() string {
			kf := newKeyFile(keyA())
			kf.AccessKey = keyA().pkcs8PEM

			return kf.JSON()
		}()}},
		{"single fields", map[string]any{
			"access_id":          testAccessID,
			"access_key":         keyA().pkcs8PEM,
			"admin_rest_api_url": testAdminURL,
		}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			tt.data["admin_role"] = adminRoleHelpDesk
			write := tb.mustWrite(t, "config/hd", tt.data)
			assertResponseHasNoKeyMaterial(t, write)

			read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)
			assertResponseHasNoKeyMaterial(t, read)

			for _, field := range []string{"private_key", "access_key", "key_file"} {
				if _, ok := read.Data[field]; ok {
					t.Errorf("read returned field %s", field)
				}
			}
		})
	}
}

func TestConfigReadMissing(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	resp, err := tb.request(t, logical.ReadOperation, "config/absent", nil)
	if err != nil {
		t.Fatalf("read: unexpected error: %v", err)
	}

	// Vault turns a nil response to a read into 404.
	if resp != nil {
		t.Errorf("read of a missing config = %#v, expected nil", resp)
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	t.Parallel()

	key := keyA()

	keyFileWith := func(change func(*keyFile)) string {
		kf := newKeyFile(key)
		change(&kf)

		return kf.JSON()
	}

	keyFileWithout := func(field string) string {
		fields := newKeyFile(key).fields()
		delete(fields, field)

		return marshalJSON(fields)
	}

	withKeyFile := func(keyFileJSON string) map[string]any {
		return map[string]any{"key_file": keyFileJSON, "admin_role": adminRoleHelpDesk}
	}

	withFields := func(change func(map[string]any)) map[string]any {
		data := map[string]any{
			"access_id":          testAccessID,
			"access_key":         key.pkcs1PEM,
			"admin_rest_api_url": testAdminURL,
			"admin_role":         adminRoleHelpDesk,
		}
		change(data)

		return data
	}

	// A base64 line of the key with one character made invalid.
	lines := strings.Split(key.pkcs1PEM, "\n")
	lines[5] = "!" + lines[5][1:]
	badBase64 := strings.Join(lines, "\n")

	encrypted := string(pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   key.private.D.Bytes(),
	}))
	registerKeyMaterial(encrypted)

	keyFileJSON := newKeyFile(key).JSON()

	tests := []struct {
		name string
		data map[string]any
		want []string // substrings the message must contain
	}{
		{"missing admin_role", map[string]any{"key_file": keyFileJSON}, []string{"admin_role", adminRoleHelpDesk, adminRoleSuperAdmin}},
		{"unknown admin_role", map[string]any{"key_file": keyFileJSON, "admin_role": "root"}, []string{"admin_role", "root"}},
		{"admin_role wrong case", map[string]any{"key_file": keyFileJSON, "admin_role": "Super_Admin"}, []string{"admin_role"}},
		{"empty admin_role", map[string]any{"key_file": keyFileJSON, "admin_role": ""}, []string{"admin_role"}},
		{"ec sec1 key", withKeyFile(keyFileWith(func(kf *keyFile) { kf.AccessKey = ecKeyPEMs().sec1PEM })), []string{"accessKey", "RSA"}},
		{"ec pkcs8 key", withKeyFile(keyFileWith(func(kf *keyFile) { kf.AccessKey = ecKeyPEMs().pkcs8PEM })), []string{"accessKey", "RSA"}},
		{"1024-bit key", withKeyFile(keyFileWith(func(kf *keyFile) { kf.AccessKey = key1024().pkcs1PEM })), []string{"accessKey", "1024"}},
		{"encrypted key", withKeyFile(keyFileWith(func(kf *keyFile) { kf.AccessKey = encrypted })), []string{"accessKey", "encrypted"}},
		{"truncated json", withKeyFile(keyFileJSON[:len(keyFileJSON)/2]), []string{"key_file", "JSON"}},
		{"trailing garbage", withKeyFile(keyFileJSON + "}"), []string{"key_file", "JSON"}},
		{"pem as key_file", withKeyFile(key.pkcs1PEM), []string{"key_file", "is a PEM key"}},
		{"json array", withKeyFile("[" + keyFileJSON + "]"), []string{"key_file", "JSON"}},
		{"empty key_file", withKeyFile(""), []string{"key_file", "empty"}},
		{"missing accessID", withKeyFile(keyFileWithout("accessID")), []string{"accessID"}},
		{"missing accessKey", withKeyFile(keyFileWithout("accessKey")), []string{"accessKey"}},
		{"missing adminRestApiUrl", withKeyFile(keyFileWithout("adminRestApiUrl")), []string{"adminRestApiUrl"}},
		{"accessKey not a string", withKeyFile(func() string {
			fields := newKeyFile(key).fields()
			fields["accessKey"] = 42

			return marshalJSON(fields)
		}()), []string{"accessKey", "string"}},
		{"accessKey not pem", withKeyFile(keyFileWith(func(kf *keyFile) { kf.AccessKey = "not a key" })), []string{"accessKey", "PEM"}},
		{"http url in key file", withKeyFile(keyFileWith(func(kf *keyFile) {
			kf.AdminRestAPIURL = "http://acme.access.securid.com/AdminInterface/restapi"
		})), []string{"adminRestApiUrl", "http"}},
		{"http url to private address", withKeyFile(keyFileWith(func(kf *keyFile) {
			kf.AdminRestAPIURL = "http://10.0.0.8/AdminInterface/restapi"
		})), []string{"adminRestApiUrl", "http"}},
		{"relative url", withKeyFile(keyFileWith(func(kf *keyFile) { kf.AdminRestAPIURL = "/AdminInterface/restapi" })), []string{"adminRestApiUrl"}},
		{"access id with space", withKeyFile(keyFileWith(func(kf *keyFile) { kf.AccessID = testAccessID + " " })), []string{"accessID", "whitespace"}},
		{"http url field", withFields(func(data map[string]any) {
			data["admin_rest_api_url"] = "http://acme.access.securid.com/AdminInterface/restapi"
		}), []string{"admin_rest_api_url", "http"}},
		{"key_file with access_key", map[string]any{
			"key_file":   keyFileJSON,
			"access_key": key.pkcs1PEM,
			"admin_role": adminRoleHelpDesk,
		}, []string{"key_file", "access_key"}},
		{"key_file with description", map[string]any{
			"key_file":    keyFileJSON,
			"description": "other",
			"admin_role":  adminRoleHelpDesk,
		}, []string{"key_file", "description"}},
		{"unknown field", map[string]any{
			"key_file":   keyFileJSON,
			"admin_role": adminRoleHelpDesk,
			"max_tll":    "30m",
		}, []string{"max_tll"}},
		{"missing access_key", withFields(func(data map[string]any) { delete(data, "access_key") }), []string{"access_key"}},
		{"empty access_key", withFields(func(data map[string]any) { data["access_key"] = "" }), []string{"access_key"}},
		{"missing access_id", withFields(func(data map[string]any) { delete(data, "access_id") }), []string{"access_id"}},
		{"missing admin_rest_api_url", withFields(func(data map[string]any) { delete(data, "admin_rest_api_url") }), []string{"admin_rest_api_url"}},
		{"access_key not pem", withFields(func(data map[string]any) { data["access_key"] = "hello" }), []string{"access_key", "PEM"}},
		{"access_key bad base64", withFields(func(data map[string]any) { data["access_key"] = badBase64 }), []string{"access_key", "base64"}},
		{"access_key is ec", withFields(func(data map[string]any) { data["access_key"] = ecKeyPEMs().pkcs8PEM }), []string{"access_key", "RSA"}},
		{"access_key in access_id", withFields(func(data map[string]any) { data["access_id"] = key.pkcs1PEM }), []string{"access_id"}},
		{"access_key in admin_rest_api_url", withFields(func(data map[string]any) { data["admin_rest_api_url"] = key.pkcs1PEM }), []string{"admin_rest_api_url"}},
		{"access_key in description", withFields(func(data map[string]any) { data["description"] = key.pkcs8PEM }), []string{"description"}},
		{"access_key in customer_name", withFields(func(data map[string]any) { data["customer_name"] = key.pkcs1PEM }), []string{"customer_name"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			resp, err := tb.write(t, "config/hd", tt.data)
			message := requireErrorResponse(t, resp, err)
			t.Logf("message: %s", message)

			for _, want := range tt.want {
				if !strings.Contains(message, want) {
					t.Errorf("message %q does not contain %q", message, want)
				}
			}

			read, err := tb.request(t, logical.ReadOperation, "config/hd", nil)
			if err != nil {
				t.Fatalf("read after rejected write: %v", err)
			}

			if read != nil {
				t.Errorf("rejected write stored a config: %v", read.Data)
			}
		})
	}
}

func TestConfigUpdateDescriptionKeepsKey(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())

	tb.clock.Advance(time.Hour)

	resp, err := tb.request(t, logical.UpdateOperation, "config/hd", map[string]any{"description": "rotated in June"})
	requireSuccess(t, "update description", resp, err)

	read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)

	created := testStart.UTC().Format(time.RFC3339)
	want := map[string]any{
		"description":        "rotated in June",
		"public_key_sha256":  keyA().fingerprint,
		"key_bits":           2048,
		"access_id":          testAccessID,
		"admin_rest_api_url": testAdminURL,
		"customer_name":      testCustomerName,
		"admin_role":         adminRoleHelpDesk,
		"created_at":         created,
		"key_updated_at":     created,
		"updated_at":         testStart.Add(time.Hour).UTC().Format(time.RFC3339),
	}

	for field, value := range want {
		if read.Data[field] != value {
			t.Errorf("%s = %v, expected %v", field, read.Data[field], value)
		}
	}
}

func TestConfigKeyReplaceNeedsAdminRole(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data map[string]any
	}{
		{"key_file", map[string]any{"key_file": newKeyFile(keyB()).JSON()}},
		{"access_key", map[string]any{"access_key": keyB().pkcs1PEM}},
		{"access_id", map[string]any{"access_id": "0b7d6c52-1111-4222-8333-944445555666"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)
			tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())

			resp, err := tb.request(t, logical.UpdateOperation, "config/hd", tt.data)
			message := requireErrorResponse(t, resp, err)

			if !strings.Contains(message, "admin_role is missing") {
				t.Errorf("error %q does not say admin_role is missing", message)
			}

			read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)

			if read.Data["public_key_sha256"] != keyA().fingerprint {
				t.Errorf("public_key_sha256 = %v, expected the old key's %s", read.Data["public_key_sha256"], keyA().fingerprint)
			}

			if read.Data["access_id"] != testAccessID {
				t.Errorf("access_id = %v, expected the old %s", read.Data["access_id"], testAccessID)
			}
		})
	}
}

func TestConfigUpdateKeyFileReplacesKey(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())

	tb.clock.Advance(time.Hour)

	kf := newKeyFile(keyB())
	kf.Description = ""
	resp, err := tb.request(t, logical.UpdateOperation, "config/hd", map[string]any{"key_file": kf.JSON(), "admin_role": adminRoleHelpDesk})
	requireSuccess(t, "update key_file", resp, err)

	read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)

	later := testStart.Add(time.Hour).UTC().Format(time.RFC3339)
	want := map[string]any{
		"public_key_sha256": keyB().fingerprint,
		"admin_role":        adminRoleHelpDesk,
		"description":       "",
		"created_at":        testStart.UTC().Format(time.RFC3339),
		"updated_at":        later,
		"key_updated_at":    later,
	}

	for field, value := range want {
		if read.Data[field] != value {
			t.Errorf("%s = %q, expected %q", field, read.Data[field], value)
		}
	}
}

func TestConfigList(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	empty := tb.mustRequest(t, logical.ListOperation, "config/", nil)
	if keys, _ := empty.Data["keys"].([]string); len(keys) != 0 {
		t.Errorf("keys before any write = %q, expected none", keys)
	}

	tb.writeKeyConfig(t, "sa", adminRoleSuperAdmin, keyB())
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())

	resp := tb.mustRequest(t, logical.ListOperation, "config/", nil)

	keys, _ := resp.Data["keys"].([]string)
	if strings.Join(keys, ",") != "hd,sa" {
		t.Errorf("keys = %q, expected [hd sa]", keys)
	}
}

func TestConfigDelete(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())

	tb.mustRequest(t, logical.DeleteOperation, "config/hd", nil)

	read, err := tb.request(t, logical.ReadOperation, "config/hd", nil)
	if err != nil {
		t.Fatalf("read after delete: %v", err)
	}

	if read != nil {
		t.Errorf("read after delete = %v, expected nil", read.Data)
	}

	list := tb.mustRequest(t, logical.ListOperation, "config/", nil)
	if keys, _ := list.Data["keys"].([]string); len(keys) != 0 {
		t.Errorf("keys after delete = %q, expected none", keys)
	}
}

func TestConfigDeleteInUse(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)
	tb.writeRole(t, "auditor", "hd", adminRoleHelpDesk, nil)

	resp, err := tb.request(t, logical.DeleteOperation, "config/hd", nil)
	message := requireErrorResponse(t, resp, err)

	for _, role := range []string{"auditor", "reader"} {
		if !strings.Contains(message, role) {
			t.Errorf("message %q does not name role %s", message, role)
		}
	}

	tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)

	tb.mustRequest(t, logical.DeleteOperation, "roles/reader", nil)
	tb.mustRequest(t, logical.DeleteOperation, "roles/auditor", nil)
	tb.mustRequest(t, logical.DeleteOperation, "config/hd", nil)
}

func TestConfigAdminRoleChange(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		roles     []string // roles using the config
		newRole   string
		wantError bool
	}{
		{"used by roles", []string{"reader", "auditor"}, adminRoleSuperAdmin, true},
		{"unused", nil, adminRoleSuperAdmin, false},
		{"same role while used", []string{"reader"}, adminRoleHelpDesk, false},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)
			tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())

			for _, role := range tt.roles {
				tb.writeRole(t, role, "hd", adminRoleHelpDesk, nil)
			}

			resp, err := tb.request(t, logical.UpdateOperation, "config/hd", map[string]any{"admin_role": tt.newRole})

			wantStored := tt.newRole

			if tt.wantError {
				message := requireErrorResponse(t, resp, err)
				for _, role := range tt.roles {
					if !strings.Contains(message, role) {
						t.Errorf("message %q does not name role %s", message, role)
					}
				}

				wantStored = adminRoleHelpDesk
			} else {
				requireSuccess(t, "change admin_role", resp, err)
			}

			read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)
			if read.Data["admin_role"] != wantStored {
				t.Errorf("stored admin_role = %v, expected %s", read.Data["admin_role"], wantStored)
			}
		})
	}
}

func TestConfigNewAccessIDDropsFileDetails(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name            string
		update          map[string]any
		wantCustomer    string
		wantDescription string
	}{
		{"new access id alone", map[string]any{"access_id": "0d3f4c1a-9b2e-4f6a-8c7d-5e4f3a2b1c0d", "access_key": keyB().pkcs1PEM, "admin_role": adminRoleHelpDesk}, "", ""},
		{"new access id with details", map[string]any{"access_id": "0d3f4c1a-9b2e-4f6a-8c7d-5e4f3a2b1c0d", "access_key": keyB().pkcs1PEM, "admin_role": adminRoleHelpDesk, "customer_name": "Other Tenant", "description": "rotated key"}, "Other Tenant", "rotated key"},
		{"same access id", map[string]any{"access_id": testAccessID, "access_key": keyB().pkcs1PEM, "admin_role": adminRoleHelpDesk}, testCustomerName, "helpdesk key"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)
			tb.mustWrite(t, "config/hd", map[string]any{
				"access_id":          testAccessID,
				"access_key":         keyA().pkcs1PEM,
				"admin_rest_api_url": testAdminURL,
				"admin_role":         adminRoleHelpDesk,
				"customer_name":      testCustomerName,
				"description":        "helpdesk key",
			})

			tb.mustWrite(t, "config/hd", tt.update)

			read := tb.mustRequest(t, logical.ReadOperation, "config/hd", nil)
			if got := read.Data["customer_name"]; got != tt.wantCustomer {
				t.Errorf("customer_name = %q, expected %q", got, tt.wantCustomer)
			}

			if got := read.Data["description"]; got != tt.wantDescription {
				t.Errorf("description = %q, expected %q", got, tt.wantDescription)
			}
		})
	}
}
