package backend

import (
	"net/http"
	"sync"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
	"golang.org/x/sync/singleflight"
)

// cachedKey is a config with its private key already parsed, so issuing a
// token costs no storage read, seal unwrap or PEM parse. client is the
// config's HTTP client for CAS, kept so its connections are reused. signer
// is set for legacy keys and oauthKey for OAuth clients.
type cachedKey struct {
	config *keyConfig
	signer *cas.Signer
	client *http.Client

	oauthKey *cas.OAuthKey
}

// signerCache holds parsed keys by config name. Every drop bumps a
// generation counter, and a load stores its result only if no drop happened
// since it began, so a load that raced with a config write cannot put the
// old key back.
type signerCache struct {
	mu         sync.RWMutex
	entries    map[string]*cachedKey
	generation uint64
	loads      singleflight.Group
}

func newSignerCache() *signerCache {
	return &signerCache{entries: make(map[string]*cachedKey)}
}

// get returns the cached key for name, running load at most once at a time
// per name when it is absent. A nil result with a nil error means the
// config does not exist, and nothing is cached for it.
func (c *signerCache) get(name string, load func() (*cachedKey, error)) (*cachedKey, error) {
	c.mu.RLock()
	entry, ok := c.entries[name]
	c.mu.RUnlock()

	if ok {
		return entry, nil
	}

	value, err, _ := c.loads.Do(name, func() (any, error) {
		// A load that ended between the lookup above and Do has already
		// cached the key, so parsing it again would only replace its client.
		c.mu.RLock()
		generation := c.generation
		cached, ok := c.entries[name]
		c.mu.RUnlock()

		if ok {
			return cached, nil
		}

		loaded, err := load()
		if err != nil || loaded == nil {
			return loaded, err
		}

		c.mu.Lock()
		if c.generation == generation {
			c.entries[name] = loaded
		}
		c.mu.Unlock()

		return loaded, nil
	})
	if err != nil {
		return nil, err
	}

	loaded, _ := value.(*cachedKey)

	return loaded, nil
}

func (c *signerCache) drop(name string) {
	c.mu.Lock()
	c.entries[name].closeIdle()
	delete(c.entries, name)
	c.generation++
	c.mu.Unlock()

	// A load that began before the drop may still be running. Forgetting it
	// makes the next caller start a fresh load instead of sharing the old.
	c.loads.Forget(name)
}

func (c *signerCache) dropAll() {
	c.mu.Lock()
	for _, entry := range c.entries {
		entry.closeIdle()
	}

	clear(c.entries)
	c.generation++
	c.mu.Unlock()
}

// closeIdle closes the idle connections of a dropped entry's client. A
// request still using the client keeps working.
func (k *cachedKey) closeIdle() {
	if k != nil && k.client != nil {
		k.client.CloseIdleConnections()
	}
}

func (c *signerCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()

	return len(c.entries)
}
