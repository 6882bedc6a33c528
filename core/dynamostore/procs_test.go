package dynamostore_test

func childFixedWindow() (string, error) { return "", nil }
func childSemaphore() (string, error)   { return "", nil }
