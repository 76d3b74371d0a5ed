package backend

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// tokenFetcher returns a fetch function that counts its calls and issues
// tokens that expire life after clock's time.
func tokenFetcher(calls *atomic.Int32, clock *testClock, life time.Duration, config string) func() (*cachedAccessToken, error) {
	return func() (*cachedAccessToken, error) {
		n := calls.Add(1)
		now := clock.Now()

		return &cachedAccessToken{
			config: config,
			token: &cas.AccessToken{
				Token:       "token-" + string('A'+n-1),
				TokenType:   "Bearer",
				RequestedAt: now,
				ExpiresIn:   life,
				ExpiresAt:   now.Add(life),
			},
		}, nil
	}
}

func TestTokenCacheReusesUntilMinRemaining(t *testing.T) {
	t.Parallel()

	cache := newTokenCache()
	clock := &testClock{now: testStart}

	var calls atomic.Int32

	fetch := tokenFetcher(&calls, clock, time.Hour, "client")

	first, cached, err := cache.get(t.Context(), "reader", clock.Now, 2*time.Minute, fetch)
	if err != nil || cached {
		t.Fatalf("first get: cached %t, error %v; expected a fresh token", cached, err)
	}

	clock.Advance(57 * time.Minute)

	second, cached, err := cache.get(t.Context(), "reader", clock.Now, 2*time.Minute, fetch)
	if err != nil || !cached || second != first {
		t.Fatalf("get with 3m left: cached %t, same %t, error %v; expected the cached token", cached, second == first, err)
	}

	clock.Advance(time.Minute)

	third, cached, err := cache.get(t.Context(), "reader", clock.Now, 2*time.Minute, fetch)
	if err != nil || cached || third == first {
		t.Fatalf("get with 2m left: cached %t, error %v; expected a new token", cached, err)
	}

	if calls.Load() != 2 {
		t.Errorf("fetches = %d, expected 2", calls.Load())
	}
}

func TestTokenCacheSingleFlight(t *testing.T) {
	t.Parallel()

	cache := newTokenCache()
	clock := &testClock{now: testStart}

	var calls atomic.Int32

	release := make(chan struct{})
	started := make(chan struct{})
	signalStart := sync.OnceFunc(func() { close(started) })

	fetch := func() (*cachedAccessToken, error) {
		signalStart()

		<-release

		return tokenFetcher(&calls, clock, time.Hour, "client")()
	}

	const readers = 64

	var wg sync.WaitGroup

	results := make([]*cachedAccessToken, readers)

	for i := range readers {
		wg.Go(func() {
			entry, _, err := cache.get(t.Context(), "reader", clock.Now, 2*time.Minute, fetch)
			if err != nil {
				t.Errorf("reader %d: %v", i, err)
			}

			results[i] = entry
		})
	}

	<-started
	// Give the other readers time to join the fetch; those that come later
	// find the cached token, which the count below would also allow.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()

	if calls.Load() != 1 {
		t.Errorf("fetches for %d concurrent readers = %d, expected 1", readers, calls.Load())
	}

	for i, entry := range results {
		if entry != results[0] {
			t.Errorf("reader %d got another token than reader 0", i)
		}
	}
}

func TestTokenCacheErrorsNotCached(t *testing.T) {
	t.Parallel()

	cache := newTokenCache()
	clock := &testClock{now: testStart}
	failure := errors.New("CAS said no")

	var calls atomic.Int32

	for range 3 {
		_, _, err := cache.get(t.Context(), "reader", clock.Now, time.Minute, func() (*cachedAccessToken, error) {
			calls.Add(1)

			return nil, failure
		})
		if !errors.Is(err, failure) {
			t.Errorf("error = %v, expected the fetch error", err)
		}
	}

	if calls.Load() != 3 || cache.len() != 0 {
		t.Errorf("fetches = %d, entries = %d; expected 3 fetches and nothing cached", calls.Load(), cache.len())
	}
}

func TestTokenCacheDrops(t *testing.T) {
	t.Parallel()

	clock := &testClock{now: testStart}

	tests := []struct {
		name    string
		drop    func(*tokenCache)
		dropped []string
	}{
		{"role", func(c *tokenCache) { c.dropRole("a1") }, []string{"a1"}},
		{"config", func(c *tokenCache) { c.dropConfig("a") }, []string{"a1", "a2"}},
		{"all", func(c *tokenCache) { c.dropAll() }, []string{"a1", "a2", "b1"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cache := newTokenCache()

			var calls atomic.Int32

			roles := map[string]string{"a1": "a", "a2": "a", "b1": "b"}
			for role, config := range roles {
				if _, _, err := cache.get(t.Context(), role, clock.Now, time.Minute, tokenFetcher(&calls, clock, time.Hour, config)); err != nil {
					t.Fatal(err)
				}
			}

			tt.drop(cache)

			for role := range roles {
				dropped := cache.lookup(role, clock.Now(), time.Minute) == nil
				want := false

				for _, name := range tt.dropped {
					want = want || name == role
				}

				if dropped != want {
					t.Errorf("role %s dropped = %t, expected %t", role, dropped, want)
				}
			}
		})
	}
}

func TestTokenCacheDropDuringFetch(t *testing.T) {
	t.Parallel()

	cache := newTokenCache()
	clock := &testClock{now: testStart}

	var calls atomic.Int32

	inFetch := make(chan struct{})
	release := make(chan struct{})

	done := make(chan struct{})

	go func() {
		defer close(done)

		_, _, err := cache.get(t.Context(), "reader", clock.Now, time.Minute, func() (*cachedAccessToken, error) {
			close(inFetch)
			<-release

			return tokenFetcher(&calls, clock, time.Hour, "client")()
		})
		if err != nil {
			t.Errorf("get: %v", err)
		}
	}()

	<-inFetch
	cache.dropConfig("client")

	// A reader after the drop must not join the fetch that began before it.
	_, cached, err := cache.get(t.Context(), "reader", clock.Now, time.Minute, tokenFetcher(&calls, clock, time.Hour, "client"))
	if err != nil || cached {
		t.Fatalf("get after drop: cached %t, error %v; expected its own fresh token", cached, err)
	}

	close(release)
	<-done

	if calls.Load() != 2 {
		t.Errorf("fetches = %d, expected 2", calls.Load())
	}

	// The token of the fetch that raced with the drop is not cached, so
	// the one cached is the token fetched after the drop, "token-A".
	entry := cache.lookup("reader", clock.Now(), time.Minute)
	if entry == nil || entry.token.Token != "token-A" {
		t.Errorf("cached token after the race = %v, expected the one fetched after the drop", entry)
	}
}

func TestTokenCacheCancelledWaiterReturns(t *testing.T) {
	t.Parallel()

	clock := &testClock{now: testStart}
	cache := newTokenCache()

	release := make(chan struct{})
	started := make(chan struct{})

	var calls atomic.Int32

	fetch := tokenFetcher(&calls, clock, time.Hour, "hd")
	slowFetch := func() (*cachedAccessToken, error) {
		close(started)
		<-release

		return fetch()
	}

	// The first caller starts a fetch that hangs until released.
	firstDone := make(chan error, 1)

	go func() {
		_, _, err := cache.get(t.Context(), "reader", clock.Now, time.Minute, slowFetch)
		firstDone <- err
	}()

	<-started

	// A second caller joins it and gives up when its request ends.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	if _, _, err := cache.get(ctx, "reader", clock.Now, time.Minute, slowFetch); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got error %v, expected context.Canceled", err)
	}

	// The fetch goes on for the first caller and fills the cache.
	close(release)

	if err := <-firstDone; err != nil {
		t.Fatalf("first caller: %v", err)
	}

	if cache.lookup("reader", clock.Now(), time.Minute) == nil {
		t.Error("the fetch that a cancelled caller left did not fill the cache")
	}

	if got := calls.Load(); got != 1 {
		t.Errorf("fetches = %d, expected 1", got)
	}
}
