package inbox

import (
	"sync"
	"testing"
)

func TestPushReportsEmptyOnlyOnce(t *testing.T) {
	var q Inbox[int]
	if !q.Push(1) {
		t.Fatal("first push into an empty queue did not report it was empty")
	}
	if q.Push(2) {
		t.Fatal("second push reported an empty queue")
	}
	got := q.Take(nil)
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("Take = %v, want [1 2]", got)
	}
	if !q.Push(3) {
		t.Fatal("push after Take did not report an empty queue")
	}
}

func TestConcurrentProducersLoseNothing(t *testing.T) {
	var q Inbox[int]
	const producers, each = 8, 10000
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				q.Push(p*each + i)
			}
		}(p)
	}
	seen := make([]bool, producers*each)
	var spare []int
	count := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		items := q.Take(spare)
		for _, v := range items {
			if seen[v] {
				t.Fatalf("item %d taken twice", v)
			}
			seen[v] = true
			count++
		}
		spare = items
	}
	for _, v := range q.Take(spare) {
		seen[v] = true
		count++
	}
	if count != producers*each {
		t.Fatalf("took %d items, want %d", count, producers*each)
	}
}
