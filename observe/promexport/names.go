package promexport

// Names lists the Prometheus names of every metric family the exporter produces (a
// histogram's _bucket, _sum and _count series belong to its family).
var Names = []string{Decisions, NearLimit, LeasesAcquired, ActiveLeases, LeaseDuration, StoreDuration, StoreErrors,
	BreakerTransitions, BreakerOpen, Reservations, Reserved, Settlements, Settled}
