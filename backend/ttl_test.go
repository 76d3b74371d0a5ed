package backend

import (
	"strings"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

func TestResolveTTL(t *testing.T) {
	t.Parallel()

	const (
		vaultDefault = vaultDefaultLeaseTTL
		vaultMax     = vaultMaxLeaseTTL
	)

	tests := []struct {
		name         string
		in           ttlInputs
		want         time.Duration
		wantWarnings []string // one substring per expected warning
	}{
		{name: "nothing set", in: ttlInputs{}, want: DefaultTTL},
		{name: "vault default mount", in: ttlInputs{mountDefault: vaultDefault, mountMax: vaultMax}, want: DefaultTTL},
		{name: "mount default used", in: ttlInputs{mountDefault: 30 * time.Minute, mountMax: vaultMax}, want: 30 * time.Minute},
		{name: "mount default at max", in: ttlInputs{mountDefault: cas.MaxTTL}, want: cas.MaxTTL},
		{name: "mount default above max", in: ttlInputs{mountDefault: cas.MaxTTL + time.Second}, want: DefaultTTL},
		{name: "role ttl beats mount default", in: ttlInputs{roleTTL: 20 * time.Minute, mountDefault: 30 * time.Minute}, want: 20 * time.Minute},
		{name: "request beats role ttl", in: ttlInputs{requested: 25 * time.Minute, roleTTL: 20 * time.Minute, mountDefault: 30 * time.Minute}, want: 25 * time.Minute},
		{name: "request below role max", in: ttlInputs{requested: 25 * time.Minute, roleMaxTTL: 30 * time.Minute}, want: 25 * time.Minute},
		{name: "request equal to caps", in: ttlInputs{requested: 30 * time.Minute, roleMaxTTL: 30 * time.Minute, mountMax: 30 * time.Minute}, want: 30 * time.Minute},
		{
			name: "role max caps request",
			in:   ttlInputs{requested: 40 * time.Minute, roleMaxTTL: 30 * time.Minute},
			want: 30 * time.Minute, wantWarnings: []string{"requested ttl 40m was capped to 30m by the role's max_ttl"},
		},
		{
			name: "mount max caps request",
			in:   ttlInputs{requested: 40 * time.Minute, mountMax: 35 * time.Minute},
			want: 35 * time.Minute, wantWarnings: []string{"requested ttl 40m was capped to 35m by the mount's max lease TTL"},
		},
		{
			name: "cas max caps request",
			in:   ttlInputs{requested: 2 * time.Hour, mountMax: vaultMax},
			want: cas.MaxTTL, wantWarnings: []string{"requested ttl 2h was capped to 59m"},
		},
		{
			name: "mount max caps role ttl",
			in:   ttlInputs{roleTTL: 50 * time.Minute, mountMax: 30 * time.Minute},
			want: 30 * time.Minute, wantWarnings: []string{"role ttl 50m was capped to 30m"},
		},
		{
			name: "role max caps mount default",
			in:   ttlInputs{mountDefault: 30 * time.Minute, roleMaxTTL: 20 * time.Minute},
			want: 20 * time.Minute, wantWarnings: []string{"mount default lease TTL 30m was capped to 20m"},
		},
		{
			name: "two caps two warnings",
			in:   ttlInputs{requested: 40 * time.Minute, roleMaxTTL: 30 * time.Minute, mountMax: 20 * time.Minute},
			want: 20 * time.Minute, wantWarnings: []string{
				"requested ttl 40m was capped to 30m by the role's max_ttl",
				"capped ttl 30m was capped to 20m by the mount's max lease TTL",
			},
		},
		{
			name: "three caps three warnings",
			in:   ttlInputs{requested: 3 * time.Hour, roleMaxTTL: 2 * time.Hour, mountMax: 90 * time.Minute},
			want: cas.MaxTTL, wantWarnings: []string{"max_ttl", "max lease TTL", "CAS"},
		},
		{name: "default capped by mount max silently", in: ttlInputs{mountMax: 10 * time.Minute}, want: 10 * time.Minute},
		{name: "default capped by role max silently", in: ttlInputs{roleMaxTTL: 5 * time.Minute}, want: 5 * time.Minute},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, warnings := resolveTTL(tt.in)

			if got != tt.want {
				t.Errorf("ttl = %s, expected %s", got, tt.want)
			}

			if len(warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings = %q, expected %d", warnings, len(tt.wantWarnings))
			}

			for i, want := range tt.wantWarnings {
				if !strings.Contains(warnings[i], want) {
					t.Errorf("warning %d = %q, expected it to contain %q", i, warnings[i], want)
				}
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   time.Duration
		want string
	}{
		{10 * time.Second, "10s"},
		{15 * time.Minute, "15m"},
		{59 * time.Minute, "59m"},
		{59*time.Minute + time.Second, "59m1s"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{768 * time.Hour, "768h"},
	}

	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()

			if got := formatDuration(tt.in); got != tt.want {
				t.Errorf("formatDuration(%s) = %q, expected %q", tt.in, got, tt.want)
			}
		})
	}
}
