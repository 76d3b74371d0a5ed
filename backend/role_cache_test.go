package backend

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// putRole writes a role entry straight into storage, as another node would.
func putRole(t *testing.T, s logical.Storage, name string, role roleEntry) {
	t.Helper()

	entry, err := logical.StorageEntryJSON(roleStoragePrefix+name, role)
	if err != nil {
		t.Fatalf("encode role: %v", err)
	}

	if err := s.Put(t.Context(), entry); err != nil {
		t.Fatalf("put role: %v", err)
	}
}

func TestRoleCacheReadsStorageOnce(t *testing.T) {
	t.Parallel()

	storage := newCountingStorage()
	putRole(t, storage, "reader", roleEntry{Config: "hd", AdminRole: adminRoleHelpDesk})

	cache := newRoleCache()

	for range 3 {
		role, err := cache.get(t.Context(), storage, "reader")
		if err != nil {
			t.Fatalf("get: %v", err)
		}

		if role == nil || role.Config != "hd" {
			t.Fatalf("get returned %+v, expected the stored role", role)
		}
	}

	if got := storage.getCount("roles/reader"); got != 1 {
		t.Errorf("roles/reader read %d times, expected 1", got)
	}
}

func TestRoleCacheMissingNotCached(t *testing.T) {
	t.Parallel()

	storage := newCountingStorage()
	cache := newRoleCache()

	for range 2 {
		role, err := cache.get(t.Context(), storage, "absent")
		if err != nil || role != nil {
			t.Fatalf("get = %+v, %v; expected nil, nil", role, err)
		}
	}

	if got := storage.getCount("roles/absent"); got != 2 {
		t.Errorf("roles/absent read %d times, expected 2 because a missing role is not cached", got)
	}

	if cache.len() != 0 {
		t.Errorf("len = %d, expected 0", cache.len())
	}
}

// dropOnGetStorage drops a role from the cache while a Get of it runs, as a
// role write landing in the middle of a creds read does.
type dropOnGetStorage struct {
	logical.InmemStorage

	cache *roleCache
}

func (s *dropOnGetStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	entry, err := s.InmemStorage.Get(ctx, key)
	if name, ok := strings.CutPrefix(key, roleStoragePrefix); ok {
		s.cache.drop(name)
	}

	return entry, err
}

func TestRoleCacheDropDuringRead(t *testing.T) {
	t.Parallel()

	cache := newRoleCache()
	storage := &dropOnGetStorage{cache: cache}
	putRole(t, storage, "reader", roleEntry{Config: "old", AdminRole: adminRoleHelpDesk})

	role, err := cache.get(t.Context(), storage, "reader")
	if err != nil || role == nil {
		t.Fatalf("get = %+v, %v", role, err)
	}

	if cache.len() != 0 {
		t.Errorf("len = %d, expected 0: a read that raced with a drop must not be cached", cache.len())
	}
}

func TestRoleCacheDrop(t *testing.T) {
	t.Parallel()

	storage := &logical.InmemStorage{}
	cache := newRoleCache()

	for _, name := range []string{"a", "b"} {
		putRole(t, storage, name, roleEntry{Config: "hd", AdminRole: adminRoleHelpDesk})

		if _, err := cache.get(t.Context(), storage, name); err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
	}

	cache.drop("a")

	if cache.len() != 1 {
		t.Errorf("len after drop = %d, expected 1", cache.len())
	}

	cache.dropAll()

	if cache.len() != 0 {
		t.Errorf("len after dropAll = %d, expected 0", cache.len())
	}
}

func TestCredsRoleCacheSkipsStorage(t *testing.T) {
	t.Parallel()

	storage := newCountingStorage()
	tb := newTestBackendWith(t, testSetup{storage: storage})
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)

	tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	afterFirst := storage.getCount("roles/reader")

	tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

	if got := storage.getCount("roles/reader") - afterFirst; got != 0 {
		t.Errorf("roles/reader read %d times by the second creds read, expected 0", got)
	}
}

func TestCredsRoleCacheSeesRoleWrites(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, map[string]any{"ttl": "10m"})

	first := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	if got := first.Data["ttl"]; got != int64(600) {
		t.Fatalf("ttl = %v, expected 600", got)
	}

	tb.mustWrite(t, "roles/reader", map[string]any{"ttl": "20m"})

	updated := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	if got := updated.Data["ttl"]; got != int64(1200) {
		t.Errorf("ttl after the role update = %v, expected 1200", got)
	}

	tb.mustRequest(t, logical.DeleteOperation, "roles/reader", nil)

	resp, err := tb.request(t, logical.ReadOperation, "creds/reader", nil)
	if msg := requireErrorResponse(t, resp, err); !strings.Contains(msg, `role "reader" not found`) {
		t.Errorf("creds after the role delete: %q, expected role not found", msg)
	}
}

func TestCredsRoleCacheInvalidate(t *testing.T) {
	t.Parallel()

	// Two backends on one storage stand in for a performance standby and
	// the active node: a role write on one reaches the other only as a
	// storage invalidation.
	storage := &logical.InmemStorage{}
	standby := newTestBackendWith(t, testSetup{storage: storage})
	active := newTestBackendWith(t, testSetup{storage: storage})

	active.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	active.writeRole(t, "reader", "hd", adminRoleHelpDesk, map[string]any{"ttl": "10m"})

	standby.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

	active.mustWrite(t, "roles/reader", map[string]any{"ttl": "20m"})

	cached := standby.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	if got := cached.Data["ttl"]; got != int64((10 * time.Minute).Seconds()) {
		t.Fatalf("standby ttl before the invalidation = %v, expected its cached 600", got)
	}

	standby.Invalidate(t.Context(), "roles/other")

	if got := standby.mustRequest(t, logical.ReadOperation, "creds/reader", nil).Data["ttl"]; got != int64(600) {
		t.Errorf("invalidating another role changed the cached role: ttl = %v", got)
	}

	standby.Invalidate(t.Context(), "roles/reader")

	if got := standby.mustRequest(t, logical.ReadOperation, "creds/reader", nil).Data["ttl"]; got != int64(1200) {
		t.Errorf("standby ttl after the invalidation = %v, expected 1200", got)
	}

	active.mustRequest(t, logical.DeleteOperation, "roles/reader", nil)
	standby.Invalidate(t.Context(), "roles/reader")

	resp, err := standby.request(t, logical.ReadOperation, "creds/reader", nil)
	requireErrorResponse(t, resp, err)
}

func TestCleanDropsCachedRoles(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)
	tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

	if tb.roles.len() != 1 {
		t.Fatalf("roles cached = %d, expected 1", tb.roles.len())
	}

	tb.Clean(t.Context())

	if tb.roles.len() != 0 {
		t.Errorf("roles cached after Clean = %d, expected 0", tb.roles.len())
	}
}
