package backend

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// countingStorage wraps in-memory storage and counts Get calls per key.
type countingStorage struct {
	inner logical.InmemStorage

	mu   sync.Mutex
	gets map[string]int
}

func newCountingStorage() *countingStorage {
	return &countingStorage{gets: make(map[string]int)}
}

func (s *countingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	s.mu.Lock()
	s.gets[key]++
	s.mu.Unlock()

	return s.inner.Get(ctx, key)
}

func (s *countingStorage) Put(ctx context.Context, entry *logical.StorageEntry) error {
	return s.inner.Put(ctx, entry)
}

func (s *countingStorage) Delete(ctx context.Context, key string) error {
	return s.inner.Delete(ctx, key)
}

func (s *countingStorage) List(ctx context.Context, prefix string) ([]string, error) {
	return s.inner.List(ctx, prefix)
}

func (s *countingStorage) getCount(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.gets[key]
}

// cachedKeyLoader returns a load function for signerCache.get that counts
// its calls and returns entry.
func cachedKeyLoader(calls *atomic.Int32, entry *cachedKey) func() (*cachedKey, error) {
	return func() (*cachedKey, error) {
		calls.Add(1)

		return entry, nil
	}
}

func TestSignerCacheLoadsOnce(t *testing.T) {
	t.Parallel()

	cache := newSignerCache()
	entry := &cachedKey{config: &keyConfig{AccessID: testAccessID}}

	var calls atomic.Int32

	for range 3 {
		got, err := cache.get("hd", cachedKeyLoader(&calls, entry))
		if err != nil {
			t.Fatalf("get: %v", err)
		}

		if got != entry {
			t.Errorf("get returned %p, expected the loaded entry %p", got, entry)
		}
	}

	if calls.Load() != 1 {
		t.Errorf("load ran %d times, expected 1", calls.Load())
	}

	if cache.len() != 1 {
		t.Errorf("len = %d, expected 1", cache.len())
	}
}

func TestSignerCacheMissingNotCached(t *testing.T) {
	t.Parallel()

	cache := newSignerCache()

	var calls atomic.Int32

	for range 2 {
		got, err := cache.get("absent", cachedKeyLoader(&calls, nil))
		if err != nil {
			t.Fatalf("get: %v", err)
		}

		if got != nil {
			t.Errorf("get returned %v for a missing config, expected nil", got)
		}
	}

	if calls.Load() != 2 {
		t.Errorf("load ran %d times, expected 2 because a missing config is not cached", calls.Load())
	}

	if cache.len() != 0 {
		t.Errorf("len = %d, expected 0", cache.len())
	}
}

func TestSignerCacheErrorNotCached(t *testing.T) {
	t.Parallel()

	cache := newSignerCache()
	errStorage := errors.New("storage unavailable")

	if _, err := cache.get("hd", func() (*cachedKey, error) { return nil, errStorage }); !errors.Is(err, errStorage) {
		t.Fatalf("get error = %v, expected %v", err, errStorage)
	}

	entry := &cachedKey{config: &keyConfig{}}

	var calls atomic.Int32

	got, err := cache.get("hd", cachedKeyLoader(&calls, entry))
	if err != nil {
		t.Fatalf("get after a failed load: %v", err)
	}

	if got != entry {
		t.Errorf("get after a failed load returned %p, expected a fresh load %p", got, entry)
	}
}

func TestSignerCacheDropDuringLoad(t *testing.T) {
	t.Parallel()

	cache := newSignerCache()
	stale := &cachedKey{config: &keyConfig{Fingerprint: "old"}}

	// A config write lands while the load is reading the old entry.
	got, err := cache.get("hd", func() (*cachedKey, error) {
		cache.drop("hd")

		return stale, nil
	})
	if err != nil {
		t.Fatalf("get: %v", err)
	}

	if got != stale {
		t.Errorf("get returned %p, expected the loaded entry %p", got, stale)
	}

	if cache.len() != 0 {
		t.Fatalf("len = %d, expected 0: a load that raced with a drop must not be cached", cache.len())
	}

	fresh := &cachedKey{config: &keyConfig{Fingerprint: "new"}}

	var calls atomic.Int32

	got, err = cache.get("hd", cachedKeyLoader(&calls, fresh))
	if err != nil {
		t.Fatalf("get after drop: %v", err)
	}

	if got != fresh {
		t.Errorf("get after drop returned %p, expected the fresh entry %p", got, fresh)
	}
}

func TestSignerCacheDrop(t *testing.T) {
	t.Parallel()

	cache := newSignerCache()

	var calls atomic.Int32

	for _, name := range []string{"hd", "sa"} {
		if _, err := cache.get(name, cachedKeyLoader(&calls, &cachedKey{config: &keyConfig{}})); err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
	}

	cache.drop("hd")

	if cache.len() != 1 {
		t.Errorf("len after drop = %d, expected 1", cache.len())
	}

	cache.dropAll()

	if cache.len() != 0 {
		t.Errorf("len after dropAll = %d, expected 0", cache.len())
	}
}

func TestCredsCacheSkipsStorage(t *testing.T) {
	t.Parallel()

	storage := newCountingStorage()
	tb := newTestBackendWith(t, testSetup{storage: storage})
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)

	tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	afterFirst := storage.getCount("config/hd")

	tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	afterSecond := storage.getCount("config/hd")

	if afterSecond != afterFirst {
		t.Errorf("config/hd read %d times by the second creds read, expected 0", afterSecond-afterFirst)
	}
}

func TestCredsCacheConfigRewrite(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)

	before := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	verifyJWT(t, before.Data["token"].(string), &keyA().private.PublicKey)

	tb.mustWrite(t, "config/hd", map[string]any{"key_file": newKeyFile(keyB()).JSON(), "admin_role": adminRoleHelpDesk})

	after := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	verifyJWT(t, after.Data["token"].(string), &keyB().private.PublicKey)

	if signedBy(after.Data["token"].(string), &keyA().private.PublicKey) {
		t.Error("token after the rewrite is still signed with the old key")
	}
}

func TestCredsCacheInvalidate(t *testing.T) {
	t.Parallel()

	// Two backends on one storage stand in for a performance standby and
	// the active node: a write on one reaches the other only as a storage
	// invalidation.
	storage := &logical.InmemStorage{}
	standby := newTestBackendWith(t, testSetup{storage: storage})
	active := newTestBackendWith(t, testSetup{storage: storage})

	active.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	active.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)

	first := standby.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	verifyJWT(t, first.Data["token"].(string), &keyA().private.PublicKey)

	active.mustWrite(t, "config/hd", map[string]any{"key_file": newKeyFile(keyB()).JSON(), "admin_role": adminRoleHelpDesk})

	cached := standby.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	if !signedBy(cached.Data["token"].(string), &keyA().private.PublicKey) {
		t.Fatal("standby did not use its cached key before the invalidation")
	}

	standby.Invalidate(t.Context(), "config/other")

	unrelated := standby.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	if !signedBy(unrelated.Data["token"].(string), &keyA().private.PublicKey) {
		t.Error("invalidating another config dropped the cached key of config hd")
	}

	standby.Invalidate(t.Context(), "config/hd")

	after := standby.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	verifyJWT(t, after.Data["token"].(string), &keyB().private.PublicKey)
}

func TestCredsConcurrentReads(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)

	const (
		readers        = 8
		readsPerReader = 10
	)

	tokens := make(chan string, readers*readsPerReader)
	errs := make(chan error, readers*readsPerReader+1)

	var wg sync.WaitGroup

	for range readers {
		wg.Go(func() {
			for range readsPerReader {
				resp, err := tb.request(t, logical.ReadOperation, "creds/reader", nil)
				if err == nil && resp.IsError() {
					err = resp.Error()
				}

				if err != nil {
					errs <- err

					continue
				}

				tokens <- resp.Data["token"].(string)
			}
		})
	}

	// Key rotations and invalidations race with the reads.
	wg.Go(func() {
		for i := range 4 {
			key := keyA()
			if i%2 == 0 {
				key = keyB()
			}

			resp, err := tb.write(t, "config/hd", map[string]any{"key_file": newKeyFile(key).JSON(), "admin_role": adminRoleHelpDesk})
			if err == nil && resp.IsError() {
				err = resp.Error()
			}

			if err != nil {
				errs <- err
			}

			tb.Invalidate(context.Background(), "config/hd")
		}
	})

	wg.Wait()
	close(tokens)
	close(errs)

	for err := range errs {
		t.Errorf("concurrent request failed: %v", err)
	}

	count := 0

	for token := range tokens {
		count++

		if !signedBy(token, &keyA().private.PublicKey) && !signedBy(token, &keyB().private.PublicKey) {
			t.Errorf("token %d is signed by neither configured key", count)
		}
	}

	if count != readers*readsPerReader {
		t.Errorf("got %d tokens, expected %d", count, readers*readsPerReader)
	}

	// The last rotation wrote keyA, so the next read must use it.
	final := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	verifyJWT(t, final.Data["token"].(string), &keyA().private.PublicKey)
}

// lostReplyStorage applies writes and deletes but, once lose is set,
// reports them as failed, as a storage call whose reply was lost does.
type lostReplyStorage struct {
	logical.InmemStorage

	lose atomic.Bool
}

var errLostReply = errors.New("storage reply lost")

func (s *lostReplyStorage) Put(ctx context.Context, entry *logical.StorageEntry) error {
	if err := s.InmemStorage.Put(ctx, entry); err != nil {
		return err
	}

	if s.lose.Load() {
		return errLostReply
	}

	return nil
}

func (s *lostReplyStorage) Delete(ctx context.Context, key string) error {
	if err := s.InmemStorage.Delete(ctx, key); err != nil {
		return err
	}

	if s.lose.Load() {
		return errLostReply
	}

	return nil
}

// A write whose storage call failed may still have landed, so the caches
// must not keep serving what storage may no longer hold.
func TestFailedStorageWriteDropsCaches(t *testing.T) {
	t.Parallel()

	const newAccessID = "9b1d6e2a-77c4-4f0e-b3a5-2c8d4e6f8a01"

	tests := []struct {
		name  string
		write func(t *testing.T, tb *testBackend) (*logical.Response, error)
		check func(t *testing.T, resp *logical.Response, err error)
	}{
		{
			name: "config key replaced",
			write: func(t *testing.T, tb *testBackend) (*logical.Response, error) {
				kf := newKeyFile(keyB())
				kf.AccessID = newAccessID

				return tb.write(t, "config/hd", map[string]any{"key_file": kf.JSON(), "admin_role": adminRoleHelpDesk})
			},
			check: func(t *testing.T, resp *logical.Response, err error) {
				t.Helper()
				requireSuccess(t, "creds after the write", resp, err)

				if got := resp.Data["access_id"]; got != newAccessID {
					t.Errorf("creds access_id = %v, expected %s from storage", got, newAccessID)
				}
			},
		},
		{
			name: "role deleted",
			write: func(t *testing.T, tb *testBackend) (*logical.Response, error) {
				return tb.request(t, logical.DeleteOperation, "roles/reader", nil)
			},
			check: func(t *testing.T, resp *logical.Response, err error) {
				t.Helper()

				if err != nil || !resp.IsError() {
					t.Errorf("creds after the role was deleted: error %v, %s; expected an error response", err, describeResponse(resp))
				}
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			storage := &lostReplyStorage{}
			tb := newCredsBackend(t, testSetup{storage: storage}, nil)
			tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

			storage.lose.Store(true)

			if _, err := tt.write(t, tb); !errors.Is(err, errLostReply) {
				t.Fatalf("write error = %v, expected the storage error", err)
			}

			storage.lose.Store(false)

			resp, err := tb.request(t, logical.ReadOperation, "creds/reader", nil)
			tt.check(t, resp, err)
		})
	}
}
