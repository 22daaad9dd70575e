package cookiestore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	convotest.TestStore(t, func(t *testing.T) convo.Store { return newStore(t, cookiestore.Options{}) })
}

// TestConformanceFleet runs the suite against two stores sharing keys that
// take calls in turn, as servers behind a load balancer: every cookie is
// read by a store that did not write it.
func TestConformanceFleet(t *testing.T) {
	convotest.TestStore(t, func(t *testing.T) convo.Store {
		keys := []cookiestore.KeyPair{testKeys(t)}
		f := &fleet{}
		for i := range f.stores {
			f.stores[i] = newStore(t, cookiestore.Options{Keys: keys})
		}
		return f
	})
}

// fleet hands each call to the next of its stores.
type fleet struct {
	stores [2]*cookiestore.Store
	next   atomic.Uint64
}

func (f *fleet) store() *cookiestore.Store { return f.stores[f.next.Add(1)%2] }

func (f *fleet) HeldByClient() {}

func (f *fleet) Load(ctx context.Context, key convo.Key) ([]byte, uint64, error) {
	return f.store().Load(ctx, key)
}

func (f *fleet) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	return f.store().Save(ctx, key, data, ttl, prev, next)
}

func (f *fleet) Delete(ctx context.Context, key convo.Key) error {
	return f.store().Delete(ctx, key)
}

func testKeys(t testing.TB) cookiestore.KeyPair {
	p, err := cookiestore.GenerateKeyPair()
	require.NoError(t, err)
	return p
}

// newStore returns a store with opts, and a new key pair unless opts has keys.
func newStore(t testing.TB, opts cookiestore.Options) *cookiestore.Store {
	if opts.Keys == nil {
		opts.Keys = []cookiestore.KeyPair{testKeys(t)}
	}
	s, err := cookiestore.New(opts)
	require.NoError(t, err)
	return s
}
