package cas

// NewHTTPClientWithTransport builds the client of NewHTTPClient over base
// instead of the network, so tests can inject network failures.
var NewHTTPClientWithTransport = newHTTPClient
