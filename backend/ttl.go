package backend

import (
	"fmt"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// DefaultTTL is the token life when neither the request, the role nor a
// tuned mount default sets one. Vault's own default lease TTL (768h unless
// the server config changes it) is far above what CAS accepts, so it is
// not used.
const DefaultTTL = 15 * time.Minute

// ttlInputs are the values that decide a token's life. Zero means unset.
type ttlInputs struct {
	requested    time.Duration
	roleTTL      time.Duration
	roleMaxTTL   time.Duration
	mountDefault time.Duration
	mountMax     time.Duration
}

// resolveTTL picks the token life: the request's ttl, else the role's, else
// the mount's default lease TTL when it is within what CAS accepts, else
// DefaultTTL. The result is then capped by the role's max_ttl, the mount's
// max lease TTL and cas.MaxTTL. Each cap that shortens a ttl the caller or
// operator chose adds a warning. DefaultTTL is capped silently, because
// no caller or operator chose it.
func resolveTTL(in ttlInputs) (time.Duration, []string) {
	ttl, source := DefaultTTL, ""

	switch {
	case in.requested > 0:
		ttl, source = in.requested, "requested ttl"
	case in.roleTTL > 0:
		ttl, source = in.roleTTL, "role ttl"
	case in.mountDefault > 0 && in.mountDefault <= cas.MaxTTL:
		ttl, source = in.mountDefault, "mount default lease TTL"
	}

	var warnings []string

	capTTL := func(limit time.Duration, reason string) {
		if limit <= 0 || ttl <= limit {
			return
		}

		if source != "" {
			warnings = append(warnings, fmt.Sprintf("%s %s was capped to %s by %s", source, formatDuration(ttl), formatDuration(limit), reason))

			// A later cap shortens a value that an earlier cap set.
			source = "capped ttl"
		}

		ttl = limit
	}

	capTTL(in.roleMaxTTL, "the role's max_ttl")
	capTTL(in.mountMax, "the mount's max lease TTL")
	capTTL(cas.MaxTTL, "the longest token life CAS accepts (1h, less 1m kept for clock skew)")

	return ttl, warnings
}
