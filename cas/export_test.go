package cas

// NewHTTPClientWithTransport builds the client of NewHTTPClient over base
// instead of the network, so tests can inject network failures.
var NewHTTPClientWithTransport = newHTTPClient

// LoopbackOnly is the dialer check of plain http connections.
var LoopbackOnly = loopbackOnly
