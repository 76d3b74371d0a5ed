package backend

import (
	"context"
	"sync"

	"github.com/hashicorp/vault/sdk/logical"
)

// roleCache keeps decoded roles by name for the creds path. Without it each
// token would read its role from storage, which for an external plugin is a
// gRPC call back to Vault. Role writes and deletes drop their entry, and
// Invalidate drops entries that another node changed.
//
// Like signerCache, every drop bumps a generation counter, and a load stores
// its result only if no drop happened since it began, so a read that raced
// with a role write cannot put the old role back.
type roleCache struct {
	mu         sync.RWMutex
	entries    map[string]*roleEntry
	generation uint64
}

func newRoleCache() *roleCache {
	return &roleCache{entries: make(map[string]*roleEntry)}
}

// get returns role name from the cache or from storage. A role that does
// not exist is not cached, so it is found as soon as it is written. The
// returned entry is shared, so callers must not change it.
func (c *roleCache) get(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	c.mu.RLock()
	role, ok := c.entries[name]
	generation := c.generation
	c.mu.RUnlock()

	if ok {
		return role, nil
	}

	role, err := readRole(ctx, s, name)
	if err != nil || role == nil {
		return role, err
	}

	c.mu.Lock()
	if c.generation == generation {
		c.entries[name] = role
	}
	c.mu.Unlock()

	return role, nil
}

func (c *roleCache) drop(name string) {
	c.mu.Lock()
	delete(c.entries, name)
	c.generation++
	c.mu.Unlock()
}

func (c *roleCache) dropAll() {
	c.mu.Lock()
	clear(c.entries)
	c.generation++
	c.mu.Unlock()
}

func (c *roleCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()

	return len(c.entries)
}
