package dynamostore

// LeaseName is leaseName, for tests that write lease maps directly.
func LeaseName(id string) string { return leaseName(id) }
