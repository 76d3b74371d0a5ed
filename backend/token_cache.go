package backend

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
	"golang.org/x/sync/singleflight"
)

// cachedAccessToken is an access token that CAS issued for a role, with
// the config it came from.
type cachedAccessToken struct {
	token  *cas.AccessToken
	config string
}

// remaining returns the token's life left at now.
func (e *cachedAccessToken) remaining(now time.Time) time.Duration {
	return e.token.ExpiresAt.Sub(now)
}

// tokenCache holds one access token per role, in memory only, so a burst
// of readers shares one token request. Every drop bumps a generation
// counter. A fetch stores its token only if no drop happened since it
// began, and callers that arrive after a drop start a new fetch instead of
// joining one that may use the old config or role. One counter serves all
// roles, so a drop can cost an unrelated role's in-flight fetch its cache
// entry; writes are rare enough for that.
type tokenCache struct {
	mu         sync.Mutex
	entries    map[string]*cachedAccessToken
	generation uint64
	fetches    singleflight.Group
}

func newTokenCache() *tokenCache {
	return &tokenCache{entries: make(map[string]*cachedAccessToken)}
}

// fetchResult is the token of one shared fetch, handed to every caller
// that joined it.
type fetchResult struct {
	entry  *cachedAccessToken
	cached bool
}

// get returns role's cached token when it has more than minRemaining left
// at now(), else runs fetch, at most once at a time per role, and caches
// its token. cached reports whether the token was issued before this call:
// callers that joined a running fetch get cached = false.
func (c *tokenCache) get(ctx context.Context, role string, now func() time.Time, minRemaining time.Duration, fetch func() (*cachedAccessToken, error)) (*cachedAccessToken, bool, error) {
	if entry := c.lookup(role, now(), minRemaining); entry != nil {
		return entry, true, nil
	}

	c.mu.Lock()
	generation := c.generation
	c.mu.Unlock()

	key := role + "\x00" + strconv.FormatUint(generation, 10)

	results := c.fetches.DoChan(key, func() (any, error) {
		// A fetch that ended between the lookup above and Do has already
		// cached a token, which must not be fetched again.
		if entry := c.lookup(role, now(), minRemaining); entry != nil {
			return fetchResult{entry: entry, cached: true}, nil
		}

		entry, err := fetch()
		if err != nil {
			return nil, err
		}

		c.mu.Lock()
		if c.generation == generation {
			c.entries[role] = entry
		}
		c.mu.Unlock()

		return fetchResult{entry: entry}, nil
	})

	// The fetch runs on without this caller, for the others that joined it
	// and for the cache, so a caller whose request ends stops waiting.
	var outcome singleflight.Result

	select {
	case outcome = <-results:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("wait for the access token of role %q: %w", role, ctx.Err())
	}

	if outcome.Err != nil {
		return nil, false, outcome.Err
	}

	result, _ := outcome.Val.(fetchResult)

	return result.entry, result.cached, nil
}

// lookup returns role's token if it has more than minRemaining left at now.
func (c *tokenCache) lookup(role string, now time.Time, minRemaining time.Duration) *cachedAccessToken {
	c.mu.Lock()
	defer c.mu.Unlock()

	entry, ok := c.entries[role]
	if !ok {
		return nil
	}

	if entry.remaining(now) <= minRemaining {
		// An expired token is removed at the next read of its role. A role
		// that is never read again keeps it until a drop.
		if entry.remaining(now) <= 0 {
			delete(c.entries, role)
		}

		return nil
	}

	return entry
}

// dropRole removes role's token, after a write or delete of the role.
func (c *tokenCache) dropRole(role string) {
	c.mu.Lock()
	defer c.mu.Unlock()

	delete(c.entries, role)
	c.generation++
}

// dropConfig removes the tokens of every role that got them from config,
// after a write or delete of the config.
func (c *tokenCache) dropConfig(config string) {
	c.mu.Lock()
	defer c.mu.Unlock()

	for role, entry := range c.entries {
		if entry.config == config {
			delete(c.entries, role)
		}
	}

	c.generation++
}

func (c *tokenCache) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()

	clear(c.entries)
	c.generation++
}

func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()

	return len(c.entries)
}
