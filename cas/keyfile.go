// Package cas holds the RSA Cloud Authentication Service side of the engine:
// parsing legacy Administration API key files and minting the bearer JWTs
// that CAS accepts. It imports nothing from Vault.
package cas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Names of the fields of a legacy key file, spelt exactly as the RSA console
// writes them.
const (
	FileFieldAccessID        = "accessID"
	FileFieldAccessKey       = "accessKey"
	FileFieldAdminRestAPIURL = "adminRestApiUrl"
	FileFieldCustomerName    = "customerName"
	FileFieldDescription     = "description"
)

var knownFileFields = []string{
	FileFieldAccessID,
	FileFieldAccessKey,
	FileFieldAdminRestAPIURL,
	FileFieldCustomerName,
	FileFieldDescription,
}

// KeyFile is the content of a legacy Administration API `.key` file.
type KeyFile struct {
	AccessID        string
	AccessKey       string // private key PEM text; never log or return it
	AdminRestAPIURL string
	CustomerName    string
	Description     string

	// UnknownFields lists top-level field names that the file carries but
	// this package does not use, sorted.
	UnknownFields []string
}

// FieldError reports an invalid value in a named input field. Its message
// never contains private key material.
type FieldError struct {
	Field  string
	Reason string

	// err is the sentinel that Unwrap returns, such as ErrNotJSON, or nil.
	err error
}

func (e *FieldError) Error() string {
	return e.Field + ": " + e.Reason
}

// Unwrap returns the sentinel error that the FieldError wraps, or nil.
func (e *FieldError) Unwrap() error {
	return e.err
}

func fieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrNotJSON is wrapped by the error ParseKeyFile returns for input that is
// not a JSON object.
var ErrNotJSON = errors.New("not a JSON object")

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ParseKeyFile parses a legacy key file. It accepts a UTF-8 byte-order mark,
// surrounding whitespace, unknown extra fields, and raw line breaks inside
// string values (left by editors that unescape the PEM). It checks that the
// three fields needed to mint a token are present and are strings. It does
// not parse the private key or the URL, so callers check those separately.
//
// The field argument names the request field that carried the file, for
// error messages.
func ParseKeyFile(field string, data []byte) (*KeyFile, error) {
	data = bytes.TrimPrefix(bytes.TrimSpace(data), utf8BOM)
	data = bytes.TrimSpace(data)

	if len(data) == 0 {
		return nil, &FieldError{Field: field, Reason: "is empty; pass the downloaded .key file, for example key_file=@helpdesk.key", err: ErrNotJSON}
	}

	// Two common mistakes leave no JSON object at all: passing a PEM key, and
	// forgetting the @ that makes the vault CLI read a file.
	if data[0] != '{' {
		if bytes.HasPrefix(data, []byte("-----BEGIN ")) {
			return nil, &FieldError{Field: field, err: ErrNotJSON, Reason: "is a PEM key, not a key file; pass the key as access_key=@key.pem with access_id and admin_rest_api_url, or the .key file as key_file=@file.key"}
		}

		return nil, &FieldError{Field: field, err: ErrNotJSON, Reason: "is not a JSON object; pass the contents of the .key file, which the vault CLI reads with key_file=@file.key (note the @)"}
	}

	raw, err := decodeObject(data)
	if err != nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			// The decoder's own message can quote a character of the
			// input, which may belong to the private key, so only the
			// offset is reported.
			return nil, &FieldError{Field: field, Reason: fmt.Sprintf(
				"is not valid JSON (syntax error near byte %d); pass the .key file exactly as the RSA console downloaded it",
				syntaxErr.Offset), err: ErrNotJSON}
		}

		return nil, &FieldError{Field: field, Reason: fmt.Sprintf(
			"is not a JSON object with the fields %s; pass the .key file exactly as the RSA console downloaded it",
			strings.Join(knownFileFields, ", ")), err: ErrNotJSON}
	}

	kf := &KeyFile{}
	targets := map[string]*string{
		FileFieldAccessID:        &kf.AccessID,
		FileFieldAccessKey:       &kf.AccessKey,
		FileFieldAdminRestAPIURL: &kf.AdminRestAPIURL,
		FileFieldCustomerName:    &kf.CustomerName,
		FileFieldDescription:     &kf.Description,
	}

	// Sorted, so the first bad field reported is the same on every run.
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		value := raw[name]
		target, known := targets[name]
		if !known {
			kf.UnknownFields = append(kf.UnknownFields, name)

			continue
		}

		if err := json.Unmarshal(value, target); err != nil {
			return nil, fieldErrorf(field, "field %q must be a JSON string", name)
		}
	}

	slices.Sort(kf.UnknownFields)

	for _, name := range []string{FileFieldAccessID, FileFieldAccessKey, FileFieldAdminRestAPIURL} {
		if strings.TrimSpace(*targets[name]) == "" {
			return nil, fieldErrorf(field, "field %q is missing or empty; the RSA console writes %s, so check that the whole file was passed",
				name, strings.Join(knownFileFields, ", "))
		}
	}

	return kf, nil
}

// decodeObject decodes a JSON object into its raw members. When decoding
// fails and escaping raw CR, LF and tab bytes inside strings changes the
// input, it decodes the escaped input once more.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage

	err := json.Unmarshal(data, &raw)
	if err == nil {
		if raw == nil {
			return nil, ErrNotJSON
		}

		return raw, nil
	}

	escaped, changed := escapeControlCharsInStrings(data)
	if !changed {
		return nil, fmt.Errorf("decode key file: %w", err)
	}

	if retryErr := json.Unmarshal(escaped, &raw); retryErr != nil || raw == nil {
		// Report the first error: it points into the bytes the user sent.
		return nil, fmt.Errorf("decode key file: %w", err)
	}

	return raw, nil
}

// escapeControlCharsInStrings rewrites raw CR, LF and tab bytes that sit
// inside JSON string literals as escapes. It reports whether it changed
// anything.
func escapeControlCharsInStrings(data []byte) ([]byte, bool) {
	var out bytes.Buffer

	out.Grow(len(data) + 64)

	inString := false
	escaped := false
	changed := false

	for _, c := range data {
		switch {
		case !inString:
			if c == '"' {
				inString = true
			}

			out.WriteByte(c)
		case escaped:
			escaped = false

			out.WriteByte(c)
		case c == '\\':
			escaped = true

			out.WriteByte(c)
		case c == '"':
			inString = false

			out.WriteByte(c)
		case c == '\n':
			changed = true

			out.WriteString(`\n`)
		case c == '\r':
			changed = true

			out.WriteString(`\r`)
		case c == '\t':
			changed = true

			out.WriteString(`\t`)
		default:
			out.WriteByte(c)
		}
	}

	return out.Bytes(), changed
}
