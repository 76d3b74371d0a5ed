package castest

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// maxLookupBody bounds the body of POST /v1/users/lookup, which is one small
// JSON object.
const maxLookupBody = 1 << 20

// defaultPageSize is the page size of a paged list when the request names none.
//
// NOTE: CAS's default page size is undocumented, so 100 is a guess.
const defaultPageSize = 100

// route is one Admin API call below AdminBasePath.
type route struct {
	method string
	// superAdminOnly marks the APIs that need a Super Administrator key.
	superAdminOnly bool
	// scope is the OAuth scope an access token needs for the API.
	scope  string
	handle func(s *Server, r *http.Request) response
}

// routes holds the Admin API calls the fake serves, keyed by the path below
// AdminBasePath. Paths must match exactly. CAS's handling of a doubled or
// trailing slash is unknown, so the fake returns 404 for those.
var routes = map[string]route{
	"/v1/adminlog/exportlogs": {method: http.MethodGet, scope: ScopeAuditAdmin, handle: (*Server).exportAdminLogs},
	"/v1/users/lookup":        {method: http.MethodPost, scope: ScopeUserRead, handle: (*Server).lookupUserByEmail},
	"/v2/users/highrisk":      {method: http.MethodGet, superAdminOnly: true, scope: ScopeUserRiskyRead, handle: (*Server).listHighRiskUsers},
}

// response is the status and body of one handled request, with the fields
// that are recorded for it.
type response struct {
	status int
	// body is encoded as JSON. For an error it is a forbiddenBody or an
	// errorBody.
	body any
	// message is the message or description of an error body.
	message string
	err     error
	// allow is the Allow header of a 405.
	allow string
	// header holds further response headers, like Retry-After.
	header http.Header
}

// forbiddenBody is the JSON body of every 403 that CAS sends.
type forbiddenBody struct {
	Timestamp int64  `json:"timestamp"` // Unix milliseconds
	Status    int    `json:"status"`
	Error     string `json:"error"`
	Message   string `json:"message"`
	Path      string `json:"path"`
}

// errorBody is the JSON body of every other error that CAS sends.
type errorBody struct {
	Code        string `json:"code"` // like "404 NOT_FOUND"
	Description string `json:"description"`
}

// page is CAS's paged list.
type page struct {
	TotalPages    int   `json:"totalPages"`
	CurrentPage   int   `json:"currentPage"`
	PageSize      int   `json:"pageSize"`
	TotalElements int   `json:"totalElements"`
	Elements      []any `json:"elements"`
}

// userDetails is a subset of the user that POST /v1/users/lookup returns, with
// the field names of RSA's "Cloud Administration User Details API" example.
type userDetails struct {
	ID           string `json:"id"`
	EmailAddress string `json:"emailAddress"`
	UserStatus   string `json:"userStatus"`
	MarkDeleted  bool   `json:"markDeleted"`
	HighRiskUser bool   `json:"highRiskUser"`
}

// Handler returns the HTTP handler of the fake, to mount on a listener of your
// own. Its paths are absolute, so mount it at the root.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	req := Request{Time: s.now(), Method: r.Method, Path: r.URL.Path}

	var resp response
	accepted := false
	switch {
	case r.URL.Path == HealthCheckPath:
		resp = serveHealthCheck(r)
	case r.URL.Path == TokenPath:
		resp = s.serveToken(r, &req)
	case r.URL.Path == AdminBasePath || strings.HasPrefix(r.URL.Path, AdminBasePath+"/"):
		if injected, ok := s.takeAdminFault(); ok {
			resp = injected
			break
		}
		resp, accepted = s.serveAdminAPI(r, &req)
	default:
		resp = errorResponse(http.StatusNotFound, fmt.Sprintf("No resource at %s", r.URL.Path))
	}

	req.Status = resp.status
	req.Message = resp.message
	req.Err = resp.err
	s.writeJSON(w, r, resp)
	s.record(req, accepted)
}

// serveHealthCheck serves the unauthenticated connectivity check.
//
// NOTE: the body of CAS's health check is undocumented. Clients should look
// only at the status.
func serveHealthCheck(r *http.Request) response {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r, http.MethodGet)
	}
	return response{status: http.StatusOK, body: map[string]string{"status": "UP"}}
}

// serveAdminAPI checks the token before it looks at the path or method, so an
// unknown path with a bad token gets 403, not 404. CAS's 403 body has the
// shape of Spring Boot's default error body, so CAS likely checks tokens in a
// filter before routing (inferred). It sets the token's sub, or the OAuth
// client, in req and returns whether the token and role were accepted.
func (s *Server) serveAdminAPI(r *http.Request, req *Request) (response, bool) {
	if token, ok := s.oauthBearer(r); ok {
		return s.serveOAuthAdminAPI(r, req, token)
	}

	key, accessID, err := s.verifyRequestToken(r)
	req.AccessID = accessID
	if err != nil {
		return s.forbidden(r, err), false
	}

	rt, resp, ok := findRoute(r)
	if !ok {
		return resp, true
	}
	if rt.superAdminOnly && key.AdminRole != RoleSuperAdmin {
		err := fmt.Errorf("%w: access ID %q has role %s, %s needs %s",
			ErrAccessDenied, accessID, key.AdminRole, r.URL.Path, RoleSuperAdmin)
		return s.forbidden(r, err), false
	}
	return rt.handle(s, r), true
}

// findRoute returns the Admin API call for r, or the 404 or 405 to send when
// there is none.
func findRoute(r *http.Request) (route, response, bool) {
	subPath := strings.TrimPrefix(r.URL.Path, AdminBasePath)
	rt, ok := routes[subPath]
	if !ok {
		return route{}, errorResponse(http.StatusNotFound, fmt.Sprintf("No Admin API at %s", r.URL.Path)), false
	}
	if r.Method != rt.method {
		return route{}, methodNotAllowed(r, rt.method), false
	}
	return rt, response{}, true
}

// exportAdminLogs serves GET /v1/adminlog/exportlogs with an empty page.
func (s *Server) exportAdminLogs(r *http.Request) response {
	return emptyPage(r)
}

// listHighRiskUsers serves GET /v2/users/highrisk with an empty page.
//
// NOTE: the shape of the real high-risk list is not known here. The fake
// sends the paged list of exportlogs.
func (s *Server) listHighRiskUsers(r *http.Request) response {
	return emptyPage(r)
}

// lookupUserByEmail serves POST /v1/users/lookup. It requires a JSON body
// because RSA documents 415 for this call. Users come from AddUser.
func (s *Server) lookupUserByEmail(r *http.Request) response {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		description := fmt.Sprintf("Content-Type %q is not supported, send application/json", r.Header.Get("Content-Type"))
		return errorResponse(http.StatusUnsupportedMediaType, description)
	}

	var lookup struct {
		Email string `json:"email"`
	}
	decoder := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxLookupBody))
	if err := decoder.Decode(&lookup); err != nil {
		return errorResponse(http.StatusBadRequest, fmt.Sprintf("Request body is not a JSON object: %v", err))
	}
	if lookup.Email == "" {
		return errorResponse(http.StatusBadRequest, "Request body has no email")
	}

	found, ok := s.lookupUser(lookup.Email)
	if !ok {
		// NOTE: the real description text for an unknown user is not known here.
		return errorResponse(http.StatusNotFound, "User not found")
	}
	return response{status: http.StatusOK, body: userDetails{
		ID:           found.id,
		EmailAddress: found.email,
		UserStatus:   "Enabled",
	}}
}

// emptyPage returns an empty paged list for the pageSize and pageNumber query
// parameters, which must be non-negative integers when present.
func emptyPage(r *http.Request) response {
	query := r.URL.Query()
	pageSize, err := queryInt(query.Get("pageSize"), defaultPageSize)
	if err != nil {
		return errorResponse(http.StatusBadRequest, fmt.Sprintf("Invalid pageSize: %v", err))
	}
	pageNumber, err := queryInt(query.Get("pageNumber"), 0)
	if err != nil {
		return errorResponse(http.StatusBadRequest, fmt.Sprintf("Invalid pageNumber: %v", err))
	}
	return response{status: http.StatusOK, body: page{
		CurrentPage: pageNumber,
		PageSize:    pageSize,
		Elements:    []any{},
	}}
}

// queryInt parses a non-negative integer query parameter, or returns
// defaultValue when it is absent.
func queryInt(value string, defaultValue int) (int, error) {
	if value == "" {
		return defaultValue, nil
	}
	parsed, err := strconv.Atoi(value)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", value)
	}
	if parsed < 0 {
		return 0, fmt.Errorf("%d is negative", parsed)
	}
	return parsed, nil
}

// forbidden returns CAS's 403 for a rule error.
func (s *Server) forbidden(r *http.Request, err error) response {
	message := messageFor(err)
	return response{
		status: http.StatusForbidden,
		body: forbiddenBody{
			Timestamp: s.now().UnixMilli(),
			Status:    http.StatusForbidden,
			Error:     http.StatusText(http.StatusForbidden),
			Message:   message,
			Path:      r.URL.Path,
		},
		message: message,
		err:     err,
	}
}

// errorResponse returns CAS's {"code","description"} error. The code is the
// status as Spring's HttpStatus prints it, like "404 NOT_FOUND".
func errorResponse(status int, description string) response {
	code := fmt.Sprintf("%d %s", status, strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")))
	return response{
		status:  status,
		body:    errorBody{Code: code, Description: description},
		message: description,
		err:     errors.New(description),
	}
}

func methodNotAllowed(r *http.Request, allowed string) response {
	resp := errorResponse(http.StatusMethodNotAllowed,
		fmt.Sprintf("Method %s is not supported for %s, use %s", r.Method, r.URL.Path, allowed))
	resp.allow = allowed
	return resp
}

// writeJSON sends resp. An encoding failure can only come from a broken
// connection, so it is logged and not sent.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, resp response) {
	if resp.allow != "" {
		w.Header().Set("Allow", resp.allow)
	}
	for name, values := range resp.header {
		w.Header()[name] = values
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	if err := json.NewEncoder(w).Encode(resp.body); err != nil {
		s.logger.Warn("write response failed",
			"method", r.Method, "path", r.URL.Path, "status", resp.status, "error", err)
	}
}
