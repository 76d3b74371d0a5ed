package cas_test

import (
	"strings"
	"testing"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

const testScopesField = "scopes"

func TestValidateScopesAccepts(t *testing.T) {
	t.Parallel()

	tests := [][]string{
		{"rsa.audit.admin"},
		{"rsa.audit.admin", "rsa.user.read", "rsa.user.risky.read"},
		{"urn:example:scope", "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~"},
	}

	for _, scopes := range tests {
		if err := cas.ValidateScopes(testScopesField, scopes); err != nil {
			t.Errorf("ValidateScopes(%q) = %v, want nil", scopes, err)
		}
	}
}

func TestValidateScopesRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		scopes []string
		want   string
	}{
		{"none", nil, "name at least one scope"},
		{"empty scope", []string{"rsa.audit.admin", ""}, "empty scope at position 2"},
		{"space inside", []string{"rsa.audit.admin rsa.user.read"}, "a space"},
		{"tab inside", []string{"rsa.audit\tadmin"}, "U+0009"},
		{"leading space", []string{" rsa.user.read"}, "a space"},
		{"object replacement character", []string{"rsa.user.read\uFFFC"}, "U+FFFC (object replacement character)"},
		{"zero-width space", []string{"rsa.\u200buser.read"}, "U+200B (invisible format character)"},
		{"byte order mark", []string{"\uFEFFrsa.user.read"}, "U+FEFF"},
		{"soft hyphen", []string{"rsa.user\u00ad.read"}, "U+00AD"},
		{"control character", []string{"rsa.user.read\x07"}, "U+0007 (control character)"},
		{"private use", []string{"rsa.user.read\ue000"}, "U+E000 (private-use character)"},
		{"non-breaking space", []string{"rsa.user\u00a0read"}, "U+00A0"},
		{"quote", []string{`rsa."user"`}, `'"'`},
		{"backslash", []string{`rsa\user`}, `'\\'`},
		{"non-ascii letter", []string{"rsa.usér.read"}, `'é'`},
		{"invalid utf-8", []string{"rsa.\xffuser"}, "not valid UTF-8"},
		{"duplicate", []string{"rsa.user.read", "rsa.audit.admin", "rsa.user.read"}, `"rsa.user.read" twice`},
		{"too long", []string{strings.Repeat("s", 257)}, "257 bytes"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := cas.ValidateScopes(testScopesField, tt.scopes)
			fieldErr := assertFieldError(t, err, testScopesField)

			if !strings.Contains(fieldErr.Reason, tt.want) {
				t.Errorf("reason %q does not contain %q", fieldErr.Reason, tt.want)
			}
		})
	}
}

func TestMissingScopes(t *testing.T) {
	t.Parallel()

	granted := []string{"rsa.audit.admin", "rsa.user.read"}

	if missing := cas.MissingScopes([]string{"rsa.user.read"}, granted); len(missing) != 0 {
		t.Errorf("MissingScopes(subset) = %q, want none", missing)
	}

	missing := cas.MissingScopes([]string{"rsa.user.manage", "rsa.audit.admin", "rsa.group.read"}, granted)
	if strings.Join(missing, ",") != "rsa.user.manage,rsa.group.read" {
		t.Errorf("MissingScopes = %q, want [rsa.user.manage rsa.group.read]", missing)
	}
}
