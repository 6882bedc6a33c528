package adaptertest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// sfItem is one member of an RFC 9651 structured-field List whose members are Items: a bare
// item and its parameters, in order.
type sfItem struct {
	value  any // string (sf-string), sfToken, int64, float64, bool
	params []sfParam
}

type sfParam struct {
	key   string
	value any
}

type sfToken string

func (it sfItem) param(key string) (any, bool) {
	for _, p := range it.params {
		if p.key == key {
			return p.value, true
		}
	}
	return nil, false
}

// parseSFList parses a List field value per RFC 9651 §4.2.1 (Inner Lists are refused: the
// RateLimit fields have none). It rejects anything the RFC's parser rejects for these
// types, including trailing commas and junk after a member.
func parseSFList(s string) ([]sfItem, error) {
	p := &sfParser{s: strings.TrimLeft(s, " ")}
	var out []sfItem
	for p.i < len(p.s) {
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		out = append(out, it)
		p.ows()
		if p.i == len(p.s) {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("sf: %q: expected ',' at %d", s, p.i)
		}
		p.i++
		p.ows()
		if p.i == len(p.s) {
			return nil, fmt.Errorf("sf: %q: trailing comma", s)
		}
	}
	return out, nil
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) item() (sfItem, error) {
	v, err := p.bare()
	if err != nil {
		return sfItem{}, err
	}
	it := sfItem{value: v}
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		for p.i < len(p.s) && p.s[p.i] == ' ' {
			p.i++
		}
		k, err := p.key()
		if err != nil {
			return sfItem{}, err
		}
		var pv any = true
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			if pv, err = p.bare(); err != nil {
				return sfItem{}, err
			}
		}
		for j := range it.params {
			if it.params[j].key == k { // a repeated key overwrites (RFC 9651 §4.2.3.2)
				it.params = append(it.params[:j], it.params[j+1:]...)
				break
			}
		}
		it.params = append(it.params, sfParam{k, pv})
	}
	return it, nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if p.i >= len(p.s) || !(p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] == '*') {
		return "", fmt.Errorf("sf: %q: bad key at %d", p.s, p.i)
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bare() (any, error) {
	if p.i >= len(p.s) {
		return nil, errors.New("sf: unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return p.s[p.i-1] == '1', nil
		}
		return nil, fmt.Errorf("sf: %q: bad boolean at %d", p.s, p.i)
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		start := p.i
		for p.i < len(p.s) && strings.IndexByte(":/!#$%&'*+-.^_`|~", p.s[p.i]) >= 0 ||
			p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] >= 'A' && p.s[p.i] <= 'Z' || p.s[p.i] >= 'a' && p.s[p.i] <= 'z') {
			p.i++
		}
		return sfToken(p.s[start:p.i]), nil
	}
	return nil, fmt.Errorf("sf: %q: unexpected %q at %d", p.s, p.s[p.i], p.i)
}

func (p *sfParser) str() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i >= len(p.s) || p.s[p.i] != '"' && p.s[p.i] != '\\' {
				return "", fmt.Errorf("sf: %q: bad escape", p.s)
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("sf: %q: non-printable byte in a string", p.s)
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("sf: %q: unterminated string", p.s)
}

func (p *sfParser) number() (any, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits, dot := 0, false
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= '0' && c <= '9' {
			digits++
			p.i++
			continue
		}
		if c == '.' && !dot {
			if digits > 12 {
				return nil, fmt.Errorf("sf: %q: decimal too long", p.s)
			}
			dot = true
			p.i++
			continue
		}
		break
	}
	num := p.s[start:p.i]
	if digits == 0 || strings.HasSuffix(num, ".") {
		return nil, fmt.Errorf("sf: %q: bad number %q", p.s, num)
	}
	if dot {
		return strconv.ParseFloat(num, 64)
	}
	if digits > 15 {
		return nil, fmt.Errorf("sf: %q: integer %q has more than 15 digits", p.s, num)
	}
	return strconv.ParseInt(num, 10, 64)
}
