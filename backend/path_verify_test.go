package backend

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// newVerifyRolesFixture stores both keys, unverified, with a role each:
// helpdesk and superadmin.
func newVerifyRolesFixture(t *testing.T) *verifyFixture {
	t.Helper()

	f := newVerifyFixture(t)

	for name, data := range map[string]map[string]any{"hd": f.helpDeskConfig(), "sa": f.superAdminConfig()} {
		delete(data, "verify")
		f.tb.mustWrite(t, "config/"+name, data)
	}

	f.tb.writeRole(t, "helpdesk", "hd", adminRoleHelpDesk, nil)
	f.tb.writeRole(t, "superadmin", "sa", adminRoleSuperAdmin, nil)

	return f
}

func TestVerifyRole(t *testing.T) {
	t.Parallel()

	tests := []struct {
		role         string
		op           logical.Operation
		want         map[string]any
		wantHighRisk any
		wantAccepted int
	}{
		{
			role: "helpdesk", op: logical.ReadOperation,
			want:         map[string]any{"ok": true, "kind": "", "status": 200, "message": "", "admin_role": adminRoleHelpDesk, "config": "hd", "access_id": testAccessID},
			wantHighRisk: nil, wantAccepted: 1,
		},
		{
			role: "superadmin", op: logical.ReadOperation,
			want:         map[string]any{"ok": true, "kind": "", "status": 200, "admin_role": adminRoleSuperAdmin, "config": "sa", "access_id": superAdminAccessID},
			wantHighRisk: true, wantAccepted: 2,
		},
		{
			role: "helpdesk", op: logical.UpdateOperation,
			want:         map[string]any{"ok": true, "role": "helpdesk"},
			wantHighRisk: nil, wantAccepted: 1,
		},
	}

	for _, tc := range tests {
		t.Run(tc.role+" "+string(tc.op), func(t *testing.T) {
			t.Parallel()

			f := newVerifyRolesFixture(t)

			resp := f.tb.mustRequest(t, tc.op, "verify/"+tc.role, nil)

			for field, value := range tc.want {
				if resp.Data[field] != value {
					t.Errorf("%s = %#v, want %#v", field, resp.Data[field], value)
				}
			}

			if got := resp.Data["high_risk_reachable"]; got != tc.wantHighRisk {
				t.Errorf("high_risk_reachable = %#v, want %#v", got, tc.wantHighRisk)
			}

			if _, ok := resp.Data["advice"]; ok {
				t.Errorf("advice given for a passed check: %v", resp.Data["advice"])
			}

			if latency, ok := resp.Data["latency_ms"].(int64); !ok || latency < 0 {
				t.Errorf("latency_ms = %#v, want a non-negative int64", resp.Data["latency_ms"])
			}

			if url := resp.Data["url"]; url != f.fake.AdminURL()+"/v1/adminlog/exportlogs" {
				t.Errorf("url = %v, want the exportlogs endpoint without query", url)
			}

			if got := f.fake.Counts().Accepted; got != tc.wantAccepted {
				t.Errorf("CAS accepted %d requests, want %d", got, tc.wantAccepted)
			}
		})
	}
}

// A failed check is reported in a normal response: the check itself ran.
func TestVerifyRoleReportsFailure(t *testing.T) {
	t.Parallel()

	f := newVerifyRolesFixture(t)

	// The Super Administrator deletes the key in the console.
	if !f.fake.RemoveKey(superAdminAccessID) {
		t.Fatal("RemoveKey: key was not registered")
	}

	resp, err := f.tb.request(t, logical.ReadOperation, "verify/superadmin", nil)
	requireSuccess(t, "read verify/superadmin", resp, err)

	want := map[string]any{
		"ok": false, "kind": string(cas.KindUnknownAccessID), "status": 403, "message": "Invalid Access Id",
		"high_risk_reachable": false, "access_id": superAdminAccessID,
	}
	for field, value := range want {
		if resp.Data[field] != value {
			t.Errorf("%s = %#v, want %#v", field, resp.Data[field], value)
		}
	}

	if advice, _ := resp.Data["advice"].(string); !strings.Contains(advice, "deleted in the RSA console") {
		t.Errorf("advice = %q, want it to name the deleted key", advice)
	}
}

func TestVerifyRoleErrors(t *testing.T) {
	t.Parallel()

	f := newVerifyRolesFixture(t)

	resp, err := f.tb.request(t, logical.ReadOperation, "verify/nobody", nil)
	if message := requireErrorResponse(t, resp, err); !strings.Contains(message, `role "nobody" not found`) {
		t.Errorf("unknown role: message %q", message)
	}

	resp, err = f.tb.request(t, logical.UpdateOperation, "verify/helpdesk", map[string]any{"ttl": "5m"})
	if message := requireErrorResponse(t, resp, err); !strings.Contains(message, "unknown field(s) ttl") {
		t.Errorf("unknown field: message %q", message)
	}

	if got := f.fake.Counts().Total; got != 0 {
		t.Errorf("CAS saw %d requests for rejected checks, want 0", got)
	}
}

// A role check catches a Super Administrator key behind a help_desk role.
func TestVerifyRoleWrongAdminRole(t *testing.T) {
	t.Parallel()

	f := newVerifyFixture(t)

	data := f.superAdminConfig()
	delete(data, "verify")
	data["admin_role"] = adminRoleHelpDesk
	f.tb.mustWrite(t, "config/hd", data)
	f.tb.writeRole(t, "helpdesk", "hd", adminRoleHelpDesk, nil)

	resp := f.tb.mustRequest(t, logical.ReadOperation, "verify/helpdesk", nil)

	if resp.Data["ok"] != false || resp.Data["kind"] != string(cas.KindWrongAdminRole) || resp.Data["status"] != 200 {
		t.Errorf("ok=%v kind=%v status=%v, want a wrong_admin_role failure with status 200", resp.Data["ok"], resp.Data["kind"], resp.Data["status"])
	}

	if url := resp.Data["url"]; url != f.fake.AdminURL()+"/v2/users/highrisk" {
		t.Errorf("url = %v, want the high-risk list", url)
	}
}

// The role check uses the config's cached client, so it trusts the config's
// ca_certificate, and a config write replaces the client.
func TestVerifyRoleUsesConfigCA(t *testing.T) {
	t.Parallel()

	f := newVerifyRolesFixture(t)

	resp := f.tb.mustRequest(t, logical.ReadOperation, "verify/helpdesk", nil)
	if resp.Data["ok"] != true {
		t.Fatalf("check with ca_certificate: %v", resp.Data)
	}

	f.tb.mustWrite(t, "config/hd", map[string]any{"ca_certificate": ""})

	resp = f.tb.mustRequest(t, logical.ReadOperation, "verify/helpdesk", nil)
	if resp.Data["ok"] != false || resp.Data["kind"] != string(cas.KindTLS) {
		t.Errorf("check after removing ca_certificate: ok=%v kind=%v, want a tls failure", resp.Data["ok"], resp.Data["kind"])
	}
}
