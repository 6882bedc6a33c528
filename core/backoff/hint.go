package backoff

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxHint stands for a server hint too large to represent: it exceeds any
// MaxWait, so the response is returned to the caller.
const maxHint = time.Duration(math.MaxInt64)

// serverHint returns how long the server asked the client to wait: the larger
// of Retry-After (RFC 9110 §10.2.3, delta-seconds or HTTP-date) and the
// RateLimit header's t parameter (draft-ietf-httpapi-ratelimit-headers) of
// every exhausted quota (r=0, or no r). Malformed values are ignored.
func serverHint(h http.Header, now time.Time) time.Duration {
	var hint time.Duration
	if v := h.Get("Retry-After"); v != "" {
		if d, ok := parseRetryAfter(v, now); ok {
			hint = d
		}
	}
	for _, v := range h.Values("RateLimit") {
		if d, ok := parseRateLimitReset(v); ok && d > hint {
			hint = d
		}
	}
	return hint
}

// parseRetryAfter parses a Retry-After value. A date in the past means 0.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		return parseSeconds(v)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// parseSeconds parses non-negative delta-seconds; an overflowing number is a
// valid, very long wait.
func parseSeconds(v string) (time.Duration, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > uint64(maxHint/time.Second) {
		return maxHint, true
	}
	return time.Duration(n) * time.Second, true
}

// parseRateLimitReset returns the largest t among the exhausted quotas of a
// RateLimit field value, a structured-field List (RFC 9651) such as
//
//	"default";r=0;t=30, "daily";r=100;t=3600
//
// Items with r > 0 still have quota left, so their t is not the reason for
// a 429. It reports false if no item qualifies or the value is malformed.
func parseRateLimitReset(v string) (time.Duration, bool) {
	p := sfParser{s: v}
	var best time.Duration
	found := false
	for {
		p.skipSpace()
		if p.done() {
			break
		}
		if !p.bareItem() {
			return 0, false
		}
		r, t := int64(-1), int64(-1)
		for p.peek() == ';' {
			p.i++
			p.skipSP()
			key, ok := p.key()
			if !ok {
				return 0, false
			}
			val := int64(-1)
			if p.peek() == '=' {
				p.i++
				n, isInt, ok := p.paramValue()
				if !ok {
					return 0, false
				}
				if isInt {
					val = n
				}
			}
			switch key {
			case "r":
				r = val
			case "t":
				t = val
			}
		}
		if t >= 0 && r <= 0 {
			d := time.Duration(t) * time.Second
			if t > int64(maxHint/time.Second) {
				d = maxHint
			}
			if !found || d > best {
				best, found = d, true
			}
		}
		p.skipSpace()
		if p.done() {
			break
		}
		if p.peek() != ',' {
			return 0, false
		}
		p.i++
	}
	return best, found
}

// sfParser is the small part of an RFC 9651 parser that RateLimit needs.
type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSpace() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) skipSP() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

// bareItem skips a string, token, number, boolean or byte sequence.
func (p *sfParser) bareItem() bool {
	switch c := p.peek(); {
	case c == '"':
		p.i++
		for !p.done() {
			switch p.s[p.i] {
			case '\\':
				p.i += 2
			case '"':
				p.i++
				return true
			default:
				p.i++
			}
		}
		return false
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return false
		}
		p.i += end + 2
		return true
	case c == '?':
		p.i++
		if c := p.peek(); c != '0' && c != '1' {
			return false
		}
		p.i++
		return true
	case c == '-' || isDigit(c):
		_, _, ok := p.number()
		return ok
	case isAlpha(c) || c == '*':
		for !p.done() && isTokenChar(p.s[p.i]) {
			p.i++
		}
		return true
	}
	return false
}

func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z') && c != '*' {
		return "", false
	}
	for !p.done() {
		c := p.s[p.i]
		if (c >= 'a' && c <= 'z') || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], true
}

// paramValue parses a parameter's bare item; n is set for integers.
func (p *sfParser) paramValue() (n int64, isInt, ok bool) {
	if c := p.peek(); c == '-' || isDigit(c) {
		return p.number()
	}
	return 0, false, p.bareItem()
}

// number parses an sf-integer or sf-decimal.
func (p *sfParser) number() (n int64, isInt, ok bool) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	for !p.done() && isDigit(p.s[p.i]) {
		p.i++
	}
	if p.i == digits || p.i-digits > 15 {
		return 0, false, false
	}
	if p.peek() == '.' {
		p.i++
		frac := p.i
		for !p.done() && isDigit(p.s[p.i]) {
			p.i++
		}
		return 0, false, p.i > frac && p.i-frac <= 3
	}
	v, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
	return v, true, err == nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isTokenChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}
