package pgstore

// PruneStatement returns the SQL of the store's prune statement named
// "idempotency", "events" or "authorizations", for tests that read its
// plan.
func (s *Store) PruneStatement(name string) string {
	switch name {
	case "idempotency":
		return s.q.pruneIdempotency
	case "events":
		return s.q.pruneEvents
	case "authorizations":
		return s.q.pruneAuthorizations
	}
	return ""
}
