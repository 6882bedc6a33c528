package s3store

// StateObject returns the name of the compare-and-swap state object of (policy name, key),
// for tests that read the state directly.
func (s *Store) StateObject(policy, key string) string { return stateName(s.objectBase(policy, key)) }
