// Package inbox is the inbox of an event loop: any goroutine posts a task,
// the loop takes everything at once.
package inbox

import "sync"

// Inbox is a multi-producer, single-consumer queue. The consumer swaps the
// whole backlog out under the lock, so producers wait only for an append
// and the consumer's slices are reused without allocating.
type Inbox[T any] struct {
	mu    sync.Mutex
	items []T
}

// Push appends v and reports whether the queue was empty before, in which
// case the producer must wake the consumer. Safe from any goroutine.
func (q *Inbox[T]) Push(v T) (wasEmpty bool) {
	q.mu.Lock()
	wasEmpty = len(q.items) == 0
	q.items = append(q.items, v)
	q.mu.Unlock()
	return wasEmpty
}

// Take moves everything queued into spare (reusing its memory) and returns
// it. The caller gives the returned slice back as the next spare once it
// has handled the items. Safe from any goroutine, meant for the consumer.
func (q *Inbox[T]) Take(spare []T) []T {
	var zero T
	for i := range spare {
		spare[i] = zero // release references held from the last round
	}
	q.mu.Lock()
	items := q.items
	q.items = spare[:0]
	q.mu.Unlock()
	return items
}
