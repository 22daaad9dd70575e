package convo

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type parentKey struct{}

func TestTurnContextDeadline(t *testing.T) {
	before := time.Now()
	c := newTurnContext(context.Background(), time.Hour)
	defer c.cancel()
	d, ok := c.Deadline()
	require.True(t, ok)
	assert.WithinRange(t, d, before.Add(time.Hour), time.Now().Add(time.Hour))

	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pd, _ := parent.Deadline()
	c = newTurnContext(parent, time.Hour)
	defer c.cancel()
	d, _ = c.Deadline()
	assert.Equal(t, pd, d, "the parent's earlier deadline wins")
}

// Nobody waits: Err finds the deadline passed, and Done is closed with it.
func TestTurnContextErrAtDeadline(t *testing.T) {
	c := newTurnContext(context.Background(), 20*time.Millisecond)
	defer c.cancel()
	require.NoError(t, c.Err())
	time.Sleep(30 * time.Millisecond)
	assert.Equal(t, context.DeadlineExceeded, c.Err())
	select {
	case <-c.Done():
	default:
		t.Fatal("Err reported the deadline but Done is open")
	}
	assert.Equal(t, context.DeadlineExceeded, context.Cause(c))
}

// Something waits: Done closes at the deadline by itself, and so do
// contexts derived from it and context.AfterFunc.
func TestTurnContextDoneAtDeadline(t *testing.T) {
	c := newTurnContext(context.Background(), 30*time.Millisecond)
	defer c.cancel()
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	after := make(chan struct{})
	context.AfterFunc(c, func() { close(after) })
	start := time.Now()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close at the deadline")
	}
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	assert.Equal(t, context.DeadlineExceeded, c.Err())
	<-child.Done()
	assert.Error(t, child.Err())
	assert.Equal(t, context.DeadlineExceeded, context.Cause(child))
	<-after
}

func TestTurnContextParentCanceled(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), parentKey{}, "v"))
	c := newTurnContext(parent, time.Hour)
	defer c.cancel()
	assert.Equal(t, "v", c.Value(parentKey{}), "values of the request's context")
	cancel()
	<-c.Done()
	assert.Equal(t, context.Canceled, c.Err())
}

func TestTurnContextCancel(t *testing.T) {
	c := newTurnContext(context.Background(), 20*time.Millisecond)
	_ = c.Done() // starts the timer
	c.cancel()
	c.cancel() // twice is fine
	<-c.Done()
	assert.Equal(t, context.Canceled, c.Err())
	time.Sleep(30 * time.Millisecond)
	assert.Equal(t, context.Canceled, c.Err(), "the deadline passing after cancel changes nothing")
	assert.Equal(t, context.Canceled, context.Cause(c))
}

func TestTurnContextExchange(t *testing.T) {
	c := newTurnContext(context.Background(), time.Hour)
	defer c.cancel()
	x, ok := ExchangeFrom(c)
	require.True(t, ok)
	assert.Same(t, &c.x, x)
}

// Done, Err and cancel from many goroutines at once (run with -race).
func TestTurnContextConcurrent(t *testing.T) {
	for range 50 {
		c := newTurnContext(context.Background(), time.Millisecond)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 3 {
				case 0:
					<-c.Done()
				case 1:
					for c.Err() == nil {
						time.Sleep(100 * time.Microsecond)
					}
				default:
					time.Sleep(time.Duration(i) * 100 * time.Microsecond)
					c.cancel()
				}
			}()
		}
		wg.Wait()
		assert.Error(t, c.Err())
	}
}
