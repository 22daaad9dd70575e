package cookiestore

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeyPair is one pair of secret keys cookies are signed and encrypted with.
type KeyPair struct {
	// Hash signs the cookie (HMAC-SHA256): 32 or 64 random bytes.
	Hash []byte
	// Block encrypts it (AES-256 in CTR mode): 32 random bytes.
	Block []byte
}

// Validate reports whether the pair's keys have usable lengths.
func (p KeyPair) Validate() error {
	if len(p.Hash) != 32 && len(p.Hash) != 64 {
		return fmt.Errorf("cookiestore: hash key has %d bytes, want 32 or 64", len(p.Hash))
	}
	if len(p.Block) != 32 {
		return fmt.Errorf("cookiestore: block key has %d bytes, want 32 (AES-256)", len(p.Block))
	}
	return nil
}

// String returns the pair in the text form ParseKeys reads:
// base64(hash) ":" base64(block), in standard base64 with padding. It
// holds the secret keys: never log it.
func (p KeyPair) String() string {
	return base64.StdEncoding.EncodeToString(p.Hash) + ":" + base64.StdEncoding.EncodeToString(p.Block)
}

// GenerateKeyPair returns a new pair of random keys: a 32-byte hash key and
// a 32-byte block key, read from crypto/rand.
func GenerateKeyPair() (KeyPair, error) {
	p := KeyPair{Hash: make([]byte, 32), Block: make([]byte, 32)}
	if _, err := rand.Read(p.Hash); err != nil {
		return KeyPair{}, fmt.Errorf("cookiestore: generating keys: %w", err)
	}
	if _, err := rand.Read(p.Block); err != nil {
		return KeyPair{}, fmt.Errorf("cookiestore: generating keys: %w", err)
	}
	return p, nil
}

// FormatKeys returns pairs in the text form ParseKeys reads, such as the
// value of CONVO_COOKIE_KEYS. It holds the secret keys: never log it.
func FormatKeys(pairs []KeyPair) string {
	s := make([]string, len(pairs))
	for i, p := range pairs {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// ParseKeys reads key pairs from their text form, as kept in the
// environment variable CONVO_COOKIE_KEYS:
//
//	HASH:BLOCK[,HASH:BLOCK...]
//
// Each HASH and BLOCK is a key in base64 (standard or URL-safe alphabet,
// with or without padding): HASH of 32 or 64 bytes, BLOCK of 32 bytes.
// Pairs are separated by commas, newest first: cookies are written with the
// first pair and read with any. Spaces and newlines around pairs are
// ignored. Errors name the pair by position, never its content.
func ParseKeys(s string) ([]KeyPair, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("cookiestore: no key pairs given")
	}
	var pairs []KeyPair
	for i, field := range strings.Split(s, ",") {
		field = strings.TrimSpace(field)
		hash, block, ok := strings.Cut(field, ":")
		if !ok {
			return nil, fmt.Errorf("cookiestore: key pair %d is not HASH:BLOCK", i+1)
		}
		var p KeyPair
		var err error
		if p.Hash, err = decodeKey(hash); err != nil {
			return nil, fmt.Errorf("cookiestore: key pair %d: hash key is not base64", i+1)
		}
		if p.Block, err = decodeKey(block); err != nil {
			return nil, fmt.Errorf("cookiestore: key pair %d: block key is not base64", i+1)
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%w (key pair %d)", err, i+1)
		}
		pairs = append(pairs, p)
	}
	return pairs, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	return enc.WithPadding(base64.NoPadding).DecodeString(strings.TrimRight(s, "="))
}
