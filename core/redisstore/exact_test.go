package redisstore_test

func exactChild() (string, error) { return "", nil }
