package s3cache

// WaitBackground waits until background revalidations have finished, so tests can observe
// their effect without sleeping.
func (h *Handler) WaitBackground() { h.bg.Wait() }
