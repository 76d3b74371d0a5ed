package plugin

import (
	"context"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// parentCheckInterval is how often the plugin checks that the Vault server
// that started it still runs.
const parentCheckInterval = 500 * time.Millisecond

// watchParent calls stop once the process's parent differs from the one it
// had at start, which means the Vault server that started the plugin has
// exited and the process was handed to init or a subreaper. Vault stops its
// plugins when it shuts down cleanly, but a Vault server killed with SIGKILL
// cannot, and with Vault 1.21.0 an HA active node stopped with SIGINT left
// its plugin running too. An orphaned plugin keeps the parsed private keys
// in memory and serves no requests, so it should not outlive its server.
//
// getppid returns the current parent's process id. watchParent returns when
// ctx ends or after calling stop.
func watchParent(ctx context.Context, logger hclog.Logger, interval time.Duration, getppid func() int, stop func()) {
	parent := getppid()

	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}

		if current := getppid(); current != parent {
			logger.Warn("the Vault server that started the plugin has exited; stopping the plugin", "parent_pid", parent, "new_parent_pid", current)
			stop()

			return
		}
	}
}

// exitOrphaned ends the process after its parent exited. Nothing is left to
// serve, so there is no state to save.
func exitOrphaned() {
	os.Exit(0)
}
