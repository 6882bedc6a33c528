package conditional

import (
	"strings"
	"time"
)

// TimeFormat is the IMF-fixdate layout (RFC 9110 §5.6.7) in which servers send HTTP dates.
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// Recipients must accept the two obsolete formats as well (RFC 9110 §5.6.7).
var dateLayouts = [...]string{
	TimeFormat,
	"Monday, 02-Jan-06 15:04:05 GMT", // RFC 850
	"Mon Jan _2 15:04:05 2006",       // asctime
}

// ParseHTTPDate parses an HTTP-date in any of the three formats of RFC 9110 §5.6.7 and
// reports whether it was valid. The result is in UTC.
func ParseHTTPDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// FormatHTTPDate formats t as an IMF-fixdate in UTC.
func FormatHTTPDate(t time.Time) string { return t.UTC().Format(TimeFormat) }
