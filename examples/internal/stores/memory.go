package stores

import (
	"context"
	"fmt"
	"io"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/memstore"
)

func usageMemory(string) string {
	return fmt.Sprintf("this process's memory, at most %d conversations (the least recently active go first); no -dsn", MaxConversations)
}

func openMemory(_ context.Context, c config) (convo.Store, io.Closer, error) {
	if err := noDSN(c, "memory"); err != nil {
		return nil, nil, err
	}
	s := memstore.New(memstore.Options{MaxConversations: MaxConversations})
	return s, s, nil
}
