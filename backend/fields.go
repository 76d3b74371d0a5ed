package backend

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// Administrator roles a CAS key can be created with.
const (
	adminRoleHelpDesk   = "help_desk"
	adminRoleSuperAdmin = "super_admin"
)

var adminRoles = []string{adminRoleHelpDesk, adminRoleSuperAdmin}

// unknownFieldsError returns a message naming request fields that the path
// does not define, or "" when there are none. Vault would otherwise ignore
// them, and a typo such as "max_tll" would pass silently.
func unknownFieldsError(req *logical.Request, d *framework.FieldData) string {
	var unknown []string

	for name := range req.Data {
		if _, ok := d.Schema[name]; !ok {
			unknown = append(unknown, name)
		}
	}

	if len(unknown) == 0 {
		return ""
	}

	slices.Sort(unknown)

	known := make([]string, 0, len(d.Schema))
	for name := range d.Schema {
		// The name is part of the path, not a body field.
		if name != "name" {
			known = append(known, name)
		}
	}

	slices.Sort(known)

	return fmt.Sprintf("unknown field(s) %s; this path accepts %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// adminRoleError returns a message when value is not a known administrator
// role, or "".
func adminRoleError(value string) string {
	if slices.Contains(adminRoles, value) {
		return ""
	}

	return fmt.Sprintf("admin_role %q is invalid; use %s for a Help Desk Administrator key or %s for a Super Administrator key",
		value, adminRoleHelpDesk, adminRoleSuperAdmin)
}

// durationField reads an optional duration field. It returns 0 when the
// field is absent and a message when the value cannot be parsed or is
// negative.
func durationField(d *framework.FieldData, name string) (time.Duration, bool, string) {
	raw, ok, err := d.GetOkErr(name)
	if err != nil {
		return 0, false, fmt.Sprintf("%s %q is not a duration; use seconds or a Go duration such as 15m", name, fmt.Sprint(d.Raw[name]))
	}

	if !ok {
		return 0, false, ""
	}

	seconds, _ := raw.(int)
	if seconds < 0 {
		return 0, true, fmt.Sprintf("%s %ds is negative; use a positive duration such as 15m", name, seconds)
	}

	return time.Duration(seconds) * time.Second, true, ""
}

// formatDuration prints d the way operators write TTLs, without trailing
// zero units: 15m, 59m, 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}

	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}

	return s
}

// nameError returns a message when a config or role name cannot be used as
// a storage key, or "". framework.GenericNameRegex allows "..", but Vault
// storage rejects it as a relative path and would fail with HTTP 500.
func nameError(field, name string) string {
	if !strings.Contains(name, "..") {
		return ""
	}

	return fmt.Sprintf("%s %q contains \"..\", which Vault storage rejects; use letters, digits, '_', '-' and single dots", field, name)
}

// withValidName wraps a path callback so that a name Vault storage would
// reject gets HTTP 400 before the callback runs.
func (b *backend) withValidName(callback framework.OperationFunc) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		if msg := nameError("name", d.Get("name").(string)); msg != "" {
			return b.badRequest(req, "%s", msg)
		}

		return callback(ctx, req, d)
	}
}

// mountPath returns the request's mount path with its trailing slash, such
// as "rsa/", for commands quoted in messages.
func mountPath(req *logical.Request) string {
	if req.MountPoint == "" {
		return "<mount>/"
	}

	return req.MountPoint
}
