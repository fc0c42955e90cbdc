package pgstore

// PruneStatement returns the SQL of the store's prune statement named
// "idempotency", "events", "authorizations" or "authorization rows" (the
// second of PruneAuthorizations), or of ClaimDue ("claim due"), for tests
// that read its plan.
func (s *Store) PruneStatement(name string) string {
	switch name {
	case "idempotency":
		return s.q.pruneIdempotency
	case "events":
		return s.q.pruneEvents
	case "authorizations":
		return s.q.pruneAuthorizations
	case "authorization rows":
		return s.q.pruneAuthorizationRows
	case "claim due":
		return s.q.claimDue
	}
	return ""
}
