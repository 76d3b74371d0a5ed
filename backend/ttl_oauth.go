package backend

import (
	"fmt"
	"time"
)

// leaseInputs are the values that decide the lease on an access token.
// Zero means unset.
type leaseInputs struct {
	remaining  time.Duration // the token's life left
	requested  time.Duration
	roleMaxTTL time.Duration
	mountMax   time.Duration
	expiresAt  time.Time
}

// resolveAccessTokenLease picks the lease of an access token: its remaining
// life, shortened by the request's ttl, the role's max_ttl and the mount's
// max lease TTL. CAS sets the token's life, so nothing can lengthen the
// lease past it, and a request ttl can only shorten it. Every value that
// makes the lease differ from the token's life adds a warning, because the
// token itself stays valid at CAS until it expires. Unlike legacy tokens,
// the 59m cap does not apply: it exists because CAS rejects self-signed
// JWTs that live longer than an hour, and access tokens are not
// self-signed.
func resolveAccessTokenLease(in leaseInputs) (time.Duration, []string) {
	lease := in.remaining
	expiry := in.expiresAt.UTC().Format(time.RFC3339)

	var warnings []string

	if in.requested > in.remaining {
		warnings = append(warnings, fmt.Sprintf("requested ttl %s is longer than the %s this access token has left; the lease ends when the token expires at %s, because CAS sets the life of access tokens",
			formatDuration(in.requested), formatDuration(in.remaining.Truncate(time.Second)), expiry))
	}

	shorten := func(limit time.Duration, reason string) {
		if limit <= 0 || lease <= limit {
			return
		}

		lease = limit

		warnings = append(warnings, fmt.Sprintf("lease shortened to %s by %s; the access token itself stays valid at CAS until %s",
			formatDuration(limit), reason, expiry))
	}

	shorten(in.requested, "the requested ttl")
	shorten(in.roleMaxTTL, "the role's max_ttl")
	shorten(in.mountMax, "the mount's max lease TTL")

	return lease, warnings
}
