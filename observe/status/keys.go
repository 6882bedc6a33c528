package status

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// KeyDisplay says how the page shows the keys most often denied.
type KeyDisplay uint8

const (
	// KeysHashed shows "h:" and the first 16 hex digits of HMAC-SHA256(Options.KeySecret,
	// key): an operator can tell keys apart and match a key they already know (hash it with
	// [Page.HashKey]) without the page revealing IP addresses or API keys. The default.
	KeysHashed KeyDisplay = iota
	// KeysRaw shows keys as they are (quoted when not printable UTF-8). For pages only
	// trusted operators reach.
	KeysRaw
	// KeysHidden shows no keys, only how many denials the most denied keys got.
	KeysHidden
)

// String names the display: hashed, raw or hidden.
func (k KeyDisplay) String() string {
	switch k {
	case KeysHashed:
		return "hashed"
	case KeysRaw:
		return "raw"
	case KeysHidden:
		return "hidden"
	}
	return fmt.Sprintf("KeyDisplay(%d)", uint8(k))
}

// hiddenKey is what KeysHidden shows instead of a key.
const hiddenKey = "(hidden)"

func newSecret() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("status: key secret: %w", err)
	}
	return b, nil
}

// HashKey returns the hashed form of key that the page shows under [KeysHashed].
func (p *Page) HashKey(key string) string {
	m := hmac.New(sha256.New, p.secret)
	m.Write([]byte(key))
	return "h:" + hex.EncodeToString(m.Sum(nil)[:8])
}

// displayKey returns key as the page shows it.
func (p *Page) displayKey(key string) string {
	switch p.keys {
	case KeysRaw:
		if printable(key) {
			return key
		}
		return strconv.Quote(key)
	case KeysHidden:
		return hiddenKey
	}
	return p.HashKey(key)
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
