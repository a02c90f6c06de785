package storage_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
)

// pages serves the numbers 0..n-1 in pages of size, the token being the
// next number as text, and counts the fetches.
type pages struct {
	mu      sync.Mutex
	n, size int
	fetches []string
	inFlight,
	maxInFlight int
	failAt string // the token whose fetch fails
	delay  time.Duration
}

func (p *pages) fetch(ctx context.Context, token string) ([]int, string, error) {
	p.mu.Lock()
	p.fetches = append(p.fetches, token)
	p.inFlight++
	p.maxInFlight = max(p.maxInFlight, p.inFlight)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	if p.delay > 0 {
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
	if token == p.failAt && token != "" {
		return nil, "", errors.New("page failed")
	}
	start := 0
	if token != "" {
		start, _ = strconv.Atoi(token)
	}
	var items []int
	for i := start; i < min(start+p.size, p.n); i++ {
		items = append(items, i)
	}
	next := ""
	if start+p.size < p.n {
		next = strconv.Itoa(start + p.size)
	}
	return items, next, nil
}

func (p *pages) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.fetches)
}

func TestLazyListFetchesNothingUntilAsked(t *testing.T) {
	p := &pages{n: 10, size: 3}
	l := storage.NewLazyList(context.Background(), "", p.fetch)
	assert.Equal(t, 0, p.count())
	require.True(t, l.Next())
	assert.Equal(t, 0, l.Item())
	items, err := l.Collect()
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, items)
	assert.Equal(t, 4, p.count())
	assert.False(t, l.Next())
	assert.Equal(t, "", l.Token())
}

func TestLazyListAll(t *testing.T) {
	p := &pages{n: 2500, size: 100}
	var got []int
	for v, err := range storage.NewLazyList(context.Background(), "", p.fetch).All() {
		require.NoError(t, err)
		got = append(got, v)
	}
	require.Len(t, got, 2500)
	for i, v := range got {
		require.Equal(t, i, v)
	}
}

func TestLazyListFetchesAtMostOnePageAhead(t *testing.T) {
	p := &pages{n: 1000, size: 10, delay: time.Millisecond}
	l := storage.NewLazyList(context.Background(), "", p.fetch)
	for i := 0; l.Next(); i++ {
		if i%10 == 0 {
			// While the caller holds page k, at most page k+1 was fetched.
			assert.LessOrEqual(t, p.count(), i/10+2)
		}
	}
	require.NoError(t, l.Err())
	assert.Equal(t, 1, p.maxInFlight, "fetches run one at a time")
}

func TestLazyListEmptyPagesWithToken(t *testing.T) {
	calls := 0
	fetch := func(ctx context.Context, token string) ([]string, string, error) {
		calls++
		switch token {
		case "":
			return nil, "a", nil
		case "a":
			return []string{}, "b", nil
		case "b":
			return []string{"x"}, "c", nil
		default:
			return nil, "", nil
		}
	}
	items, err := storage.NewLazyList(context.Background(), "", fetch).Collect()
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, items)
	assert.Equal(t, 4, calls)
}

func TestLazyListErrorOnce(t *testing.T) {
	p := &pages{n: 100, size: 10, failAt: "30"}
	var got []int
	var errs []error
	for v, err := range storage.NewLazyList(context.Background(), "", p.fetch).All() {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, v)
	}
	assert.Len(t, got, 30)
	require.Len(t, errs, 1)
	assert.EqualError(t, errs[0], "page failed")

	l := storage.NewLazyList(context.Background(), "", p.fetch)
	items, err := l.Collect()
	assert.Len(t, items, 30)
	assert.Error(t, err)
	assert.False(t, l.Next(), "a failed listing stays failed")
	assert.Equal(t, err, l.Err())
}

func TestLazyListSameTokenIsAnError(t *testing.T) {
	fetch := func(ctx context.Context, token string) ([]int, string, error) { return []int{1}, "again", nil }
	_, err := storage.NewLazyList(context.Background(), "again", fetch).Collect()
	assert.Error(t, err)
}

func TestLazyListCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pages{n: 100, size: 10}
	l := storage.NewLazyList(ctx, "", p.fetch)
	require.True(t, l.Next())
	cancel()
	assert.False(t, l.Next())
	assert.ErrorIs(t, l.Err(), context.Canceled)
}

func TestLazyListBreakLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	var cancelled atomic.Int32
	fetch := func(ctx context.Context, token string) ([]int, string, error) {
		if token == "" {
			return []int{1, 2, 3}, "next", nil
		}
		<-ctx.Done() // a slow page, stopped only by Close
		cancelled.Add(1)
		return nil, "", ctx.Err()
	}
	for range 20 {
		for range storage.NewLazyList(context.Background(), "", fetch).All() {
			break
		}
	}
	// Polled by hand: testify's Eventually runs goroutines of its own.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines fetching ahead outlived the listing")
	assert.Equal(t, int32(20), cancelled.Load())
}

func TestLazyListUsableAfterClose(t *testing.T) {
	p := &pages{n: 30, size: 10, delay: 5 * time.Millisecond}
	l := storage.NewLazyList(context.Background(), "", p.fetch)
	require.True(t, l.Next())
	l.Close() // stops the fetch ahead of page 2, which Next makes again
	rest, err := l.Collect()
	require.NoError(t, err)
	assert.Len(t, rest, 29)
}

func TestLazyListToken(t *testing.T) {
	p := &pages{n: 10, size: 4}
	l := storage.NewLazyList(context.Background(), "4", p.fetch)
	assert.Equal(t, "4", l.Token(), "before Next, the start token")
	require.True(t, l.Next()) // 4, page 4..7
	assert.Equal(t, "4", l.Token(), "mid-page, the current page again")
	for range 3 {
		require.True(t, l.Next())
	}
	assert.Equal(t, "8", l.Token(), "page consumed, the next page")
	require.True(t, l.Next())
	require.True(t, l.Next())
	assert.False(t, l.Next())
	assert.Equal(t, "", l.Token())
}

func TestNewErrorList(t *testing.T) {
	l := storage.NewErrorList[int](storage.ErrInvalidArgument)
	assert.False(t, l.Next())
	assert.ErrorIs(t, l.Err(), storage.ErrInvalidArgument)
	n := 0
	for _, err := range l.All() {
		assert.ErrorIs(t, err, storage.ErrInvalidArgument)
		n++
	}
	assert.Equal(t, 1, n)
}

func ExampleLazyList() {
	// A page function serving three pages.
	fetch := func(ctx context.Context, token string) ([]string, string, error) {
		switch token {
		case "":
			return []string{"a", "b"}, "p2", nil
		case "p2":
			return []string{"c"}, "p3", nil
		default:
			return []string{"d"}, "", nil
		}
	}
	for item, err := range storage.NewLazyList(context.Background(), "", fetch).All() {
		if err != nil {
			fmt.Println("error:", err)
			break
		}
		fmt.Print(item, " ")
	}
	fmt.Println()
	// Output: a b c d
}

func TestLazyListNextPage(t *testing.T) {
	p := &pages{n: 10, size: 4}
	l := storage.NewLazyList(context.Background(), "", p.fetch)
	require.True(t, l.Next())
	assert.Equal(t, []int{1, 2, 3}, l.NextPage(), "the rest of the current page, after the current item")
	assert.Equal(t, "4", l.Token())
	assert.Equal(t, []int{4, 5, 6, 7}, l.NextPage())
	assert.Equal(t, []int{8, 9}, l.NextPage())
	assert.Nil(t, l.NextPage())
	assert.NoError(t, l.Err())
}

func TestLazyListOnPage(t *testing.T) {
	p := &pages{n: 10, size: 4}
	var mu sync.Mutex
	var events []storage.PageEvent
	l := storage.NewLazyList(context.Background(), "", p.fetch).OnPage(func(e storage.PageEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	items, err := l.Collect()
	require.NoError(t, err)
	assert.Len(t, items, 10)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 3)
	assert.Equal(t, 4, events[0].Items)
	assert.Equal(t, "4", events[0].Next)
	assert.Equal(t, "8", events[2].Token)
}
