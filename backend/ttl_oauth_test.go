package backend

import (
	"strings"
	"testing"
	"time"
)

func TestResolveAccessTokenLease(t *testing.T) {
	t.Parallel()

	expiresAt := time.Date(2025, time.June, 14, 13, 0, 0, 0, time.UTC)

	tests := []struct {
		name         string
		in           leaseInputs
		want         time.Duration
		wantWarnings []string // one substring per expected warning, in order
	}{
		{"remaining life", leaseInputs{remaining: 50 * time.Minute}, 50 * time.Minute, nil},
		{"remaining life beyond 59m", leaseInputs{remaining: 3 * time.Hour}, 3 * time.Hour, nil},
		{"request shortens", leaseInputs{remaining: 50 * time.Minute, requested: 10 * time.Minute}, 10 * time.Minute,
			[]string{"lease shortened to 10m by the requested ttl; the access token itself stays valid at CAS until 2025-06-14T13:00:00Z"}},
		{"request longer than remaining", leaseInputs{remaining: 12 * time.Minute, requested: 30 * time.Minute}, 12 * time.Minute,
			[]string{"requested ttl 30m is longer than the 12m this access token has left"}},
		{"request equal to remaining", leaseInputs{remaining: 12 * time.Minute, requested: 12 * time.Minute}, 12 * time.Minute, nil},
		{"role max_ttl caps", leaseInputs{remaining: 50 * time.Minute, roleMaxTTL: 15 * time.Minute}, 15 * time.Minute,
			[]string{"lease shortened to 15m by the role's max_ttl"}},
		{"mount max caps", leaseInputs{remaining: 50 * time.Minute, mountMax: 20 * time.Minute}, 20 * time.Minute,
			[]string{"lease shortened to 20m by the mount's max lease TTL"}},
		{"request then role cap", leaseInputs{remaining: 50 * time.Minute, requested: 40 * time.Minute, roleMaxTTL: 15 * time.Minute}, 15 * time.Minute,
			[]string{"by the requested ttl", "by the role's max_ttl"}},
		{"caps above remaining are silent", leaseInputs{remaining: 5 * time.Minute, roleMaxTTL: 15 * time.Minute, mountMax: time.Hour}, 5 * time.Minute, nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tt.in.expiresAt = expiresAt

			got, warnings := resolveAccessTokenLease(tt.in)
			if got != tt.want {
				t.Errorf("lease = %s, expected %s", got, tt.want)
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
