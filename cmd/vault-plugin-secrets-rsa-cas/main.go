// Command vault-plugin-secrets-rsa-cas is the plugin binary that Vault runs.
package main

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/plugin"
)

func main() {
	// Vault reads a plugin's log lines as JSON from stderr and applies its
	// own log level, so the plugin logs everything and lets Vault filter.
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "rsa-cas",
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})

	if err := plugin.Serve(os.Args[1:], logger); err != nil {
		logger.Error("plugin exited with an error", "error", err)
		os.Exit(1)
	}
}
