package backend

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// configUpdate is a config write request after its fields were read and
// checked, before it is applied.
type configUpdate struct {
	keyFile   *cas.KeyFile
	fields    map[string]string
	adminRole string
	warnings  []string

	// caCertificate is nil when the request does not set ca_certificate.
	caCertificate *string
}

// parseConfigUpdate reads the request's key fields and checks that key_file
// and the single fields are not mixed.
func parseConfigUpdate(d *framework.FieldData) (*configUpdate, string) {
	update := &configUpdate{fields: make(map[string]string)}

	for _, field := range keyFields {
		if value, ok := d.GetOk(field); ok {
			update.fields[field] = value.(string)
		}
	}

	// Error messages, logs and reads echo every field but access_key, so a
	// private key pasted into the wrong field is rejected before anything
	// quotes it.
	for _, field := range keyFields {
		if field != "access_key" && strings.Contains(update.fields[field], "PRIVATE KEY") {
			return nil, fmt.Sprintf("%s contains a PEM private key; pass the key as access_key, or the whole file as key_file=@file.key", field)
		}
	}

	if raw, ok := d.GetOk("key_file"); ok {
		if len(update.fields) > 0 {
			conflicting := make([]string, 0, len(update.fields))
			for _, field := range keyFields {
				if _, ok := update.fields[field]; ok {
					conflicting = append(conflicting, field)
				}
			}

			return nil, fmt.Sprintf("key_file cannot be combined with %s; the key file sets all of them, so pass either key_file or the single fields", strings.Join(conflicting, ", "))
		}

		keyFile, err := cas.ParseKeyFile("key_file", []byte(raw.(string)))
		if err != nil {
			return nil, err.Error()
		}

		update.keyFile = keyFile

		if len(keyFile.UnknownFields) > 0 {
			update.warnings = append(update.warnings, fmt.Sprintf("key_file fields ignored: %s", strings.Join(keyFile.UnknownFields, ", ")))
		}
	}

	if value, ok := d.GetOk("admin_role"); ok {
		update.adminRole = value.(string)
		if msg := adminRoleError(update.adminRole); msg != "" {
			return nil, msg
		}
	}

	if value, ok := d.GetOk("ca_certificate"); ok {
		caPEM := strings.TrimSpace(value.(string))
		if msg := caCertificateError(caPEM); msg != "" {
			return nil, msg
		}

		update.caCertificate = &caPEM
	}

	return update, ""
}

// applyConfigUpdate returns the config that results from applying update to
// existing (nil when creating), after checking every value. It reports
// whether the private key changed.
func (b *backend) applyConfigUpdate(existing *keyConfig, update *configUpdate) (*keyConfig, bool, string) {
	now := b.now().UTC()

	cfg := &keyConfig{CreatedAt: now}
	if existing != nil {
		copied := *existing
		cfg = &copied
	}

	cfg.UpdatedAt = now

	// Field names for messages: values from a key file are reported by the
	// file's own field names.
	urlField, idField, keyField := "admin_rest_api_url", "access_id", "access_key"
	newKeyPEM := ""

	if kf := update.keyFile; kf != nil {
		urlField = "key_file field " + cas.FileFieldAdminRestAPIURL
		idField = "key_file field " + cas.FileFieldAccessID
		keyField = "key_file field " + cas.FileFieldAccessKey
		cfg.AccessID, cfg.AdminRestAPIURL = kf.AccessID, kf.AdminRestAPIURL
		cfg.CustomerName, cfg.Description = kf.CustomerName, kf.Description
		newKeyPEM = kf.AccessKey
	}

	if value, ok := update.fields["access_id"]; ok {
		// customer_name and description came from the old key's file, so a
		// new access ID drops them unless this write gives new ones.
		if existing != nil && value != existing.AccessID {
			cfg.CustomerName, cfg.Description = "", ""
		}

		cfg.AccessID = value
	}

	if value, ok := update.fields["admin_rest_api_url"]; ok {
		cfg.AdminRestAPIURL = value
	}

	if value, ok := update.fields["customer_name"]; ok {
		cfg.CustomerName = value
	}

	if value, ok := update.fields["description"]; ok {
		cfg.Description = value
	}

	if value, ok := update.fields["access_key"]; ok {
		if value == "" {
			return nil, false, "access_key is empty; pass the PEM private key, for example access_key=@key.pem, or the whole file as key_file=@file.key"
		}

		newKeyPEM = value
	}

	if update.adminRole != "" {
		cfg.AdminRole = update.adminRole
	}

	if update.caCertificate != nil {
		cfg.CACertificate = *update.caCertificate
	}

	if existing == nil {
		if newKeyPEM == "" {
			return nil, false, "access_key is missing; pass the key file as key_file=@file.key, or access_id, access_key and admin_rest_api_url"
		}

		if cfg.AdminRole == "" {
			return nil, false, fmt.Sprintf("admin_role is missing; the key file does not record it, so pass the role the key was created with: %s or %s",
				adminRoleHelpDesk, adminRoleSuperAdmin)
		}
	}

	// A new key, or a new access ID, may come from a key of the other admin
	// role, and keeping the stored role would silently change what every role
	// on this config may do. So the operator restates it.
	keyReplaced := existing != nil && (newKeyPEM != "" || cfg.AccessID != existing.AccessID)
	if keyReplaced && update.adminRole == "" {
		return nil, false, fmt.Sprintf("admin_role is missing; replacing the key or access_id needs the role the new key was created with (%s or %s), because the key file does not record it. This config is %s now",
			adminRoleHelpDesk, adminRoleSuperAdmin, existing.AdminRole)
	}

	if msg := accessIDError(idField, cfg.AccessID); msg != "" {
		return nil, false, msg
	}

	if err := cas.ValidateAdminURL(urlField, cfg.AdminRestAPIURL); err != nil {
		return nil, false, err.Error()
	}

	if newKeyPEM == "" {
		return cfg, false, ""
	}

	key, err := cas.ParsePrivateKey(keyField, newKeyPEM)
	if err != nil {
		return nil, false, err.Error()
	}

	fingerprint, err := cas.PublicKeyFingerprint(&key.PublicKey)
	if err != nil {
		return nil, false, fmt.Sprintf("%s: cannot encode the public key: %v", keyField, err)
	}

	cfg.PrivateKey = cas.EncodePrivateKey(key)
	cfg.KeyBits = key.N.BitLen()
	cfg.Fingerprint = fingerprint
	cfg.KeyUpdatedAt = now

	return cfg, true, ""
}

// accessIDError checks an access ID. CAS matches it exactly, so stray
// whitespace from a copy and paste is rejected instead of trimmed.
func accessIDError(field, value string) string {
	if value == "" {
		return fmt.Sprintf("%s is missing; use the accessID from the key file", field)
	}

	if strings.IndexFunc(value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Sprintf("%s %q contains whitespace or control characters; CAS matches it exactly, so remove them", field, value)
	}

	return ""
}
