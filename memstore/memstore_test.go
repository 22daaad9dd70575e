package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	convotest.TestStore(t, func(t *testing.T) convo.Store {
		s := memstore.New(memstore.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func key(i int) convo.Key { return convo.Key{From: fmt.Sprintf("+1415555%04d", i), To: "+15005550006"} }

func TestSweepFreesExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := memstore.New(memstore.Options{})
		defer s.Close()
		for i := range 2500 {
			require.NoError(t, s.Save(ctx, key(i), []byte("{}"), time.Hour, 0, 1))
		}
		require.NoError(t, s.Save(ctx, key(9999), []byte("{}"), 3*time.Hour, 0, 1))
		time.Sleep(time.Hour + time.Minute) // the background sweep runs each minute
		synctest.Wait()
		assert.Equal(t, 1, s.Len(), "the sweep left expired records, or freed a live one")
		data, _, err := s.Load(ctx, key(9999))
		require.NoError(t, err)
		assert.NotNil(t, data)
	})
}

func TestMaxConversations(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{MaxConversations: 3, SweepInterval: -1})
	defer s.Close()
	for i := range 3 {
		require.NoError(t, s.Save(ctx, key(i), []byte("{}"), time.Hour, 0, 1))
	}
	require.NoError(t, s.Save(ctx, key(0), []byte(`{"again":1}`), time.Hour, 1, 2)) // key 1 is now the least recently saved
	require.NoError(t, s.Save(ctx, key(3), []byte("{}"), time.Hour, 0, 1))
	assert.Equal(t, 3, s.Len())
	for i, want := range []bool{true, false, true, true} {
		data, _, err := s.Load(ctx, key(i))
		require.NoError(t, err)
		assert.Equal(t, want, data != nil, "key %d", i)
	}
}

func TestDefaultBound(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{SweepInterval: -1})
	defer s.Close()
	for i := range memstore.DefaultMaxConversations + 10 {
		require.NoError(t, s.Save(ctx, convo.Key{From: fmt.Sprint(i), To: "x"}, []byte("{}"), time.Hour, 0, 1))
	}
	assert.Equal(t, memstore.DefaultMaxConversations, s.Len(), "the store is bounded by default")
}
