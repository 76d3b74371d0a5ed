package cas_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// Values of the key file that the tests build around testKey.
const (
	testFileField    = "key_file"
	testAccessID     = "6b7d3c44-1f5e-4c1a-9a57-2a0f3e1d9c11"
	testAdminURL     = "https://tenant.access.securid.com/AdminInterface/restapi"
	testCustomerName = "Tenant"
	testDescription  = "helpdesk key"
)

// keyFileMember is one top-level member of a key file, with its value as raw
// JSON text.
type keyFileMember struct {
	name  string
	value string
}

// consoleMembers returns the members of a key file in the order the RSA
// console writes them. The accessKey PEM line breaks are \n escapes.
func consoleMembers() []keyFileMember {
	escapedKey := strings.ReplaceAll(pkcs1PEM(testKey()), "\n", `\n`)

	return []keyFileMember{
		{name: cas.FileFieldAccessID, value: `"` + testAccessID + `"`},
		{name: cas.FileFieldAccessKey, value: `"` + escapedKey + `"`},
		{name: cas.FileFieldAdminRestAPIURL, value: `"` + testAdminURL + `"`},
		{name: cas.FileFieldCustomerName, value: `"` + testCustomerName + `"`},
		{name: cas.FileFieldDescription, value: `"` + testDescription + `"`},
	}
}

// joinMembers writes the members as a JSON object. The separator text goes
// after each comma and may contain line breaks and indentation.
func joinMembers(members []keyFileMember, separator string) string {
	parts := make([]string, len(members))
	for i, member := range members {
		parts[i] = `"` + member.name + `":` + member.value
	}

	return "{" + strings.Join(parts, ","+separator) + "}"
}

// consoleKeyFile returns a key file as the RSA console downloads it, which is
// one line of JSON with \n escapes inside the accessKey string.
func consoleKeyFile() string {
	return joinMembers(consoleMembers(), "")
}

// withMember returns the console members with the named member's value
// replaced, or with the member appended if the console does not write it.
func withMember(name, value string) []keyFileMember {
	members := consoleMembers()

	for i := range members {
		if members[i].name == name {
			members[i].value = value

			return members
		}
	}

	return append(members, keyFileMember{name: name, value: value})
}

// withoutMembers returns the console members without the named members.
func withoutMembers(names ...string) []keyFileMember {
	return slices.DeleteFunc(consoleMembers(), func(member keyFileMember) bool {
		return slices.Contains(names, member.name)
	})
}

// editedKeyFile returns the key file as an editor leaves it after
// pretty-printing it and unescaping the PEM, with one member per line and raw
// line breaks inside the accessKey string. Every line break, both between
// members and inside the PEM, is the newline argument.
func editedKeyFile(newline string) string {
	members := consoleMembers()
	for i := range members {
		members[i].value = strings.ReplaceAll(members[i].value, `\n`, newline)
	}

	object := joinMembers(members, newline+"  ")
	object = strings.Replace(object, "{", "{"+newline+"  ", 1)

	return strings.TrimSuffix(object, "}") + newline + "}" + newline
}

func TestParseKeyFileAccepts(t *testing.T) {
	t.Parallel()

	pkcs1 := pkcs1PEM(testKey())

	tests := []struct {
		name              string
		data              string
		wantAccessKey     string
		wantDescription   string
		wantCustomerName  string
		wantUnknownFields []string
	}{
		{
			name:             "console format",
			data:             consoleKeyFile(),
			wantAccessKey:    pkcs1,
			wantCustomerName: testCustomerName,
			wantDescription:  testDescription,
		},
		{
			name:             "byte-order mark",
			data:             "\uFEFF" + consoleKeyFile(),
			wantAccessKey:    pkcs1,
			wantCustomerName: testCustomerName,
			wantDescription:  testDescription,
		},
		{
			name:             "surrounding whitespace",
			data:             "\r\n  " + consoleKeyFile() + "\n\n",
			wantAccessKey:    pkcs1,
			wantCustomerName: testCustomerName,
			wantDescription:  testDescription,
		},
		{
			name:             "byte-order mark and trailing newline",
			data:             "\uFEFF" + consoleKeyFile() + "\r\n",
			wantAccessKey:    pkcs1,
			wantCustomerName: testCustomerName,
			wantDescription:  testDescription,
		},
		{
			name: "unknown fields",
			data: joinMembers(append(consoleMembers(),
				keyFileMember{name: "zone", value: `"eu"`},
				keyFileMember{name: "createdBy", value: `{"name":"admin"}`},
				keyFileMember{name: "adminRole", value: `"HELP_DESK_ADMIN"`},
				keyFileMember{name: "Version", value: `2`},
			), ""),
			wantAccessKey:     pkcs1,
			wantCustomerName:  testCustomerName,
			wantDescription:   testDescription,
			wantUnknownFields: []string{"Version", "adminRole", "createdBy", "zone"},
		},
		{
			name:             "raw newlines in strings",
			data:             editedKeyFile("\n"),
			wantAccessKey:    pkcs1,
			wantCustomerName: testCustomerName,
			wantDescription:  testDescription,
		},
		{
			name:             "CRLF file",
			data:             editedKeyFile("\r\n"),
			wantAccessKey:    strings.ReplaceAll(pkcs1, "\n", "\r\n"),
			wantCustomerName: testCustomerName,
			wantDescription:  testDescription,
		},
		{
			name:             "CRLF between members",
			data:             joinMembers(consoleMembers(), "\r\n  "),
			wantAccessKey:    pkcs1,
			wantCustomerName: testCustomerName,
			wantDescription:  testDescription,
		},
		{
			name:             "tab in description",
			data:             joinMembers(withMember(cas.FileFieldDescription, "\"helpdesk\tkey\""), ""),
			wantAccessKey:    pkcs1,
			wantCustomerName: testCustomerName,
			wantDescription:  "helpdesk\tkey",
		},
		{
			name:             "empty description",
			data:             joinMembers(withMember(cas.FileFieldDescription, `""`), ""),
			wantAccessKey:    pkcs1,
			wantCustomerName: testCustomerName,
			wantDescription:  "",
		},
		{
			name:             "no description or customer name",
			data:             joinMembers(withoutMembers(cas.FileFieldCustomerName, cas.FileFieldDescription), ""),
			wantAccessKey:    pkcs1,
			wantCustomerName: "",
			wantDescription:  "",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := cas.ParseKeyFile(testFileField, []byte(tt.data))
			if err != nil {
				t.Fatalf("ParseKeyFile() error = %v", err)
			}

			if got.AccessID != testAccessID {
				t.Errorf("AccessID = %q, want %q", got.AccessID, testAccessID)
			}

			if got.AccessKey != tt.wantAccessKey {
				t.Errorf("AccessKey differs from the PEM text in the file")
			}

			if got.AdminRestAPIURL != testAdminURL {
				t.Errorf("AdminRestAPIURL = %q, want %q", got.AdminRestAPIURL, testAdminURL)
			}

			if got.CustomerName != tt.wantCustomerName {
				t.Errorf("CustomerName = %q, want %q", got.CustomerName, tt.wantCustomerName)
			}

			if got.Description != tt.wantDescription {
				t.Errorf("Description = %q, want %q", got.Description, tt.wantDescription)
			}

			if !slices.Equal(got.UnknownFields, tt.wantUnknownFields) {
				t.Errorf("UnknownFields = %q, want %q", got.UnknownFields, tt.wantUnknownFields)
			}
		})
	}
}

func TestParseKeyFileAccessKeyParses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data string
	}{
		{name: "console format", data: consoleKeyFile()},
		{name: "raw newlines in strings", data: editedKeyFile("\n")},
		{name: "CRLF file", data: editedKeyFile("\r\n")},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			keyFile, err := cas.ParseKeyFile(testFileField, []byte(tt.data))
			if err != nil {
				t.Fatalf("ParseKeyFile() error = %v", err)
			}

			key, err := cas.ParsePrivateKey(testKeyField, keyFile.AccessKey)
			if err != nil {
				t.Fatalf("ParsePrivateKey(AccessKey) error = %v", err)
			}

			if key.N.Cmp(testKey().N) != 0 {
				t.Errorf("AccessKey contains a key with a different modulus N")
			}
		})
	}
}

func TestParseKeyFileRejects(t *testing.T) {
	t.Parallel()

	console := consoleKeyFile()
	pkcs1 := pkcs1PEM(testKey())

	// The key split into an array of lines, as a user might write it when
	// building the file by hand.
	keyLines := `["` + strings.Join(strings.Split(strings.TrimSpace(pkcs1), "\n"), `","`) + `"]`

	// An invalid escape in the middle of the key makes the decoder stop
	// inside the private key, where its message would quote key text.
	badEscape := strings.Replace(console, `\n`, `\x`, 5)

	tests := []struct {
		name        string
		data        string
		wantReason  string
		wantNotJSON bool
	}{
		{
			name:       "missing accessID",
			data:       joinMembers(withoutMembers(cas.FileFieldAccessID), ""),
			wantReason: `field "accessID" is missing or empty`,
		},
		{
			name:       "missing accessKey",
			data:       joinMembers(withoutMembers(cas.FileFieldAccessKey), ""),
			wantReason: `field "accessKey" is missing or empty`,
		},
		{
			name:       "missing adminRestApiUrl",
			data:       joinMembers(withoutMembers(cas.FileFieldAdminRestAPIURL), ""),
			wantReason: `field "adminRestApiUrl" is missing or empty`,
		},
		{
			name:       "empty accessID",
			data:       joinMembers(withMember(cas.FileFieldAccessID, `""`), ""),
			wantReason: `field "accessID" is missing or empty`,
		},
		{
			name:       "blank adminRestApiUrl",
			data:       joinMembers(withMember(cas.FileFieldAdminRestAPIURL, `"  "`), ""),
			wantReason: `field "adminRestApiUrl" is missing or empty`,
		},
		{
			name:       "null accessKey",
			data:       joinMembers(withMember(cas.FileFieldAccessKey, `null`), ""),
			wantReason: `field "accessKey" is missing or empty`,
		},
		{
			name:       "numeric accessID",
			data:       joinMembers(withMember(cas.FileFieldAccessID, `12345`), ""),
			wantReason: `field "accessID" must be a JSON string`,
		},
		{
			name:       "accessKey as array of lines",
			data:       joinMembers(withMember(cas.FileFieldAccessKey, keyLines), ""),
			wantReason: `field "accessKey" must be a JSON string`,
		},
		{
			name:       "numeric description",
			data:       joinMembers(withMember(cas.FileFieldDescription, `7`), ""),
			wantReason: `field "description" must be a JSON string`,
		},
		{
			name:        "missing closing brace",
			data:        strings.TrimSuffix(console, "}"),
			wantReason:  "is not valid JSON",
			wantNotJSON: true,
		},
		{
			name:        "truncated inside accessKey",
			data:        console[:len(console)/2],
			wantReason:  "is not valid JSON",
			wantNotJSON: true,
		},
		{
			name:        "invalid escape in accessKey",
			data:        badEscape,
			wantReason:  "is not valid JSON",
			wantNotJSON: true,
		},
		{
			name:        "raw newlines and missing comma",
			data:        strings.Replace(editedKeyFile("\n"), `",`, `"`, 1),
			wantReason:  "is not valid JSON",
			wantNotJSON: true,
		},
		{
			name:        "JSON array",
			data:        "[" + console + "]",
			wantReason:  "is not a JSON object",
			wantNotJSON: true,
		},
		{
			name:        "JSON string",
			data:        `"` + testAccessID + `"`,
			wantReason:  "is not a JSON object",
			wantNotJSON: true,
		},
		{
			name:        "JSON null",
			data:        "null",
			wantReason:  "is not a JSON object",
			wantNotJSON: true,
		},
		{
			name:        "bare PEM",
			data:        pkcs1,
			wantReason:  "is a PEM key, not a key file",
			wantNotJSON: true,
		},
		{
			name:        "file name without @",
			data:        "helpdesk.key",
			wantReason:  "(note the @)",
			wantNotJSON: true,
		},
		{
			name:        "empty",
			data:        "",
			wantReason:  "is empty",
			wantNotJSON: true,
		},
		{
			name:        "whitespace only",
			data:        " \r\n\t",
			wantReason:  "is empty",
			wantNotJSON: true,
		},
		{
			name:        "byte-order mark only",
			data:        "\uFEFF\n",
			wantReason:  "is empty",
			wantNotJSON: true,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := cas.ParseKeyFile(testFileField, []byte(tt.data))
			if got != nil {
				t.Errorf("ParseKeyFile() returned a key file, want nil")
			}

			fieldErr := assertFieldError(t, err, testFileField)

			if !strings.Contains(fieldErr.Reason, tt.wantReason) {
				t.Errorf("FieldError.Reason = %q, want it to contain %q", fieldErr.Reason, tt.wantReason)
			}

			if errors.Is(err, cas.ErrNotJSON) != tt.wantNotJSON {
				t.Errorf("errors.Is(err, ErrNotJSON) = %t, want %t", !tt.wantNotJSON, tt.wantNotJSON)
			}

			assertNoKeyMaterial(t, err, pkcs1)
		})
	}
}

func FuzzParseKeyFile(f *testing.F) {
	pkcs1 := pkcs1PEM(testKey())

	f.Add([]byte(consoleKeyFile()))
	f.Add([]byte("\uFEFF" + consoleKeyFile()))
	f.Add([]byte(editedKeyFile("\r\n")))
	f.Add([]byte(joinMembers(withMember("adminRole", `"SUPER_ADMIN"`), "")))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, data []byte) {
		keyFile, err := cas.ParseKeyFile(testFileField, data)
		if err != nil {
			var fieldErr *cas.FieldError
			if !errors.As(err, &fieldErr) {
				t.Fatalf("error %q has type %T, want *cas.FieldError", err, err)
			}

			assertNoKeyMaterial(t, err, pkcs1)

			return
		}

		for name, value := range map[string]string{
			cas.FileFieldAccessID:        keyFile.AccessID,
			cas.FileFieldAccessKey:       keyFile.AccessKey,
			cas.FileFieldAdminRestAPIURL: keyFile.AdminRestAPIURL,
		} {
			if strings.TrimSpace(value) == "" {
				t.Errorf("ParseKeyFile() accepted a file with field %q blank", name)
			}
		}

		if !slices.IsSorted(keyFile.UnknownFields) {
			t.Errorf("UnknownFields = %q, want them sorted", keyFile.UnknownFields)
		}
	})
}
