// Package status is a live status page for Tollgate's limiters: an http.Handler that shows,
// for each limiter, its policies, store and circuit-breaker health, what the failure policy
// did (fail-open, fail-closed, fallback), decision counts and rates, the keys most often
// denied right now, concurrency holders (leases held now per policy, their mean hold time,
// and the keys holding the most), and per policy its reservations (batches of allowance
// reserved from the store, and the decisions they answered without a store call) and
// settlements (charges and refunds, taken or failed, and their allowance). The same data is
// served as JSON.
//
// Build one [Page], give each limiter an observer from [Page.Observer] (combine it with
// metrics through observe.Tee), and mount the page where only operators reach it:
//
//	page, err := status.New(status.Options{})
//	lim, err := core.NewLimiter(core.Config{..., Observer: page.Observer(observe.Limiter{
//		Name: "api", Store: store, Policies: policies, Failure: core.FailOpen,
//	})})
//	admin := http.NewServeMux()
//	admin.Handle("GET /tollgate", page) // HTML; /tollgate?format=json is JSON
//	go http.ListenAndServe("127.0.0.1:9090", admin)
//
// # Protecting it
//
// Nothing mounts the page by default, and it carries no authentication of its own, because
// every application already has a way to protect operator pages. Use one of:
//
//   - a separate listener on a loopback or private address (above), reached through an SSH
//     tunnel, a VPN or the cluster network, never the public mux;
//   - the application's admin authentication middleware around it;
//   - at least HTTP basic authentication over TLS, comparing with crypto/subtle.
//
// The page shows policy names and limits, store health, and the most denied keys, which are
// client IPs or API keys: by default keys are shown hashed ([KeysHashed]), and [KeysHidden]
// leaves them out. Its responses are marked no-store, and its Content-Security-Policy allows
// no scripts, no external resources and no framing.
//
// # What it shows and how it is counted
//
// Counts are cumulative since the observer was created; rates are per second over the last
// minute of page loads (the first load shows the rate since the limiter's first decision).
// The most denied keys are counted over the current and the previous Options.Window (one
// minute by default), so a key that stopped being denied drops off within two windows. They
// are kept with the Space-Saving algorithm in a bounded table (Options.TopKeys times 8 keys
// per window): memory stays bounded however many distinct keys are denied, and counts are
// exact until more distinct keys are denied in a window than the table holds, after which a
// newly listed key's count may be over-estimated by at most the smallest count it displaced.
//
// Concurrency holders are counted from the lease grants and releases the core reports: a
// lease is held from the decision that granted it (by the store or the fallback) until its
// Release, failed or not (the core keeps releasing a failed one in the background). A lease
// the application never releases stays counted; the store expires it, but no event says so.
// Holders are kept per key in a table of at most MaxHolderKeys (policy, key) pairs; leases of
// keys that find it full are shown as "other keys", so the totals stay exact.
//
// The page is one self-contained HTML document: inline CSS, no JavaScript, no external
// assets; it reloads itself every Options.Refresh with a meta refresh.
package status
