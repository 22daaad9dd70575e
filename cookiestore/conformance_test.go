package cookiestore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
		s, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{testKeys(t)}, Expiry: e})
		require.NoError(t, err)
		return s
	}, convotest.ClientHeld())
}

// TestConformanceFleet runs the suite against two stores sharing keys that
// take calls in turn, as servers behind a load balancer: every cookie is
// decrypted and decoded by a store that did not write it.
func TestConformanceFleet(t *testing.T) {
	convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
		keys := []cookiestore.KeyPair{testKeys(t)}
		f := &fleet{}
		for i := range f.stores {
			s, err := cookiestore.New(cookiestore.Options{Keys: keys, Expiry: e})
			require.NoError(t, err)
			f.stores[i] = s
		}
		return f
	}, convotest.ClientHeld())
}

// fleet hands each call to the next of its stores.
type fleet struct {
	stores [2]*cookiestore.Store
	next   atomic.Uint64
}

func (f *fleet) store() *cookiestore.Store { return f.stores[f.next.Add(1)%2] }

func (f *fleet) Load(ctx context.Context, key convo.Key) (*convo.Conversation, error) {
	return f.store().Load(ctx, key)
}

func (f *fleet) Save(ctx context.Context, c *convo.Conversation) error {
	return f.store().Save(ctx, c)
}

func (f *fleet) Delete(ctx context.Context, key convo.Key) error {
	return f.store().Delete(ctx, key)
}

func testKeys(t testing.TB) cookiestore.KeyPair {
	p, err := cookiestore.GenerateKeyPair()
	require.NoError(t, err)
	return p
}
