package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
		s := memstore.New(memstore.Options{Expiry: e})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSweepFreesExpired(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	s := memstore.New(memstore.Options{Expiry: convo.Expiry{Now: clock.Now}, SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	for i := range 10 {
		c := convo.NewConversation(convo.Key{From: fmt.Sprint(i), To: "x"})
		c.LastActive = clock.Now()
		require.NoError(t, s.Save(ctx, c))
	}
	assert.Equal(t, 10, s.Len())
	clock.Advance(convo.DefaultIdle)
	s.Sweep()
	assert.Equal(t, 0, s.Len(), "sweep left expired conversations in memory")
}

func TestBackgroundSweep(t *testing.T) {
	s := memstore.New(memstore.Options{Expiry: convo.Expiry{Idle: time.Millisecond}, SweepInterval: 5 * time.Millisecond})
	defer s.Close()
	require.NoError(t, s.Save(context.Background(), convo.NewConversation(convo.Key{From: "a", To: "b"})))
	assert.Eventually(t, func() bool { return s.Len() == 0 }, 2*time.Second, 5*time.Millisecond)
}

func TestMaxConversations(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	s := memstore.New(memstore.Options{Expiry: convo.Expiry{Now: clock.Now}, MaxConversations: 64, SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	for i := range 1000 {
		c := convo.NewConversation(convo.Key{From: fmt.Sprint(i), To: "x"})
		c.LastActive = clock.Now()
		require.NoError(t, s.Save(ctx, c))
		clock.Advance(time.Second)
	}
	assert.LessOrEqual(t, s.Len(), 64, "MaxConversations not enforced")
	last, err := s.Load(ctx, convo.Key{From: "999", To: "x"})
	require.NoError(t, err)
	assert.NotZero(t, last.Version, "the newest conversation was evicted")
}

func TestClosed(t *testing.T) {
	s := memstore.New(memstore.Options{})
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err := s.Load(context.Background(), convo.Key{From: "a", To: "b"})
	assert.ErrorIs(t, err, convo.ErrClosed)
	assert.ErrorIs(t, s.Save(context.Background(), convo.NewConversation(convo.Key{From: "a", To: "b"})), convo.ErrClosed)
}
