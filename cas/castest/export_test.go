package castest

// UsedJTIs returns how many jti values the replay store holds, so that tests
// can see it shrink.
func (s *Server) UsedJTIs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.oauth.usedJTIs)
}

// HeldAccessTokens returns how many access tokens the server remembers.
func (s *Server) HeldAccessTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.oauth.tokens)
}
