package memstore

import "github.com/authcapture/authcapture"

var _ authcapture.CheapReads = (*Store)(nil)

// CheapReads reports that reads are map lookups, so a Service keeps no cache
// of states in front of this store.
func (s *Store) CheapReads() bool { return true }
