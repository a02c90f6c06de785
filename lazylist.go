package storage

import (
	"context"
	"errors"
	"iter"
	"time"
)

// PageFunc fetches the page of a listing that token names ("" for the
// first) and returns its items and the token of the page after it ("" when
// it is the last). A page may be empty and still name a next page.
type PageFunc[T any] func(ctx context.Context, token string) (items []T, next string, err error)

// LazyList is a listing fetched a page at a time, only as the caller
// consumes it, like Libcloud's LazyList. While the caller works through one
// page, the next is fetched in the background (never more than one page
// ahead). Use it with Next/Item/Err, or range over All.
//
// A LazyList is not safe for concurrent use by several goroutines.
type LazyList[T any] struct {
	ctx   context.Context
	fetch PageFunc[T]

	started  bool
	finished bool
	err      error

	page      []T
	idx       int    // index in page of the current item
	pageToken string // token that fetched page
	nextToken string // token of the page after page; "" after the last

	ahead   chan pageResult[T] // the page nextToken names, fetched ahead
	cancel  context.CancelFunc // stops the fetch ahead
	stopped bool               // the fetch ahead was stopped by Close

	onPage func(PageEvent) // hears of every page fetched
}

// PageEvent describes one page fetch of a listing, for instrumentation.
type PageEvent struct {
	Token    string        // the token that named the page
	Items    int           // items on the page
	Next     string        // the token of the next page
	Duration time.Duration // how long the fetch took
	Err      error
}

// OnPage sets a function that hears of every page fetched, from the
// goroutine that fetched it, before the caller sees its items. It returns
// l, and must be called before the first Next.
func (l *LazyList[T]) OnPage(fn func(PageEvent)) *LazyList[T] {
	l.onPage = fn
	return l
}

// fetchTimed fetches a page and reports it to onPage.
func (l *LazyList[T]) fetchTimed(ctx context.Context, token string) ([]T, string, error) {
	start := time.Now()
	items, next, err := l.fetch(ctx, token)
	if l.onPage != nil {
		l.onPage(PageEvent{Token: token, Items: len(items), Next: next, Duration: time.Since(start), Err: err})
	}
	return items, next, err
}

type pageResult[T any] struct {
	items []T
	next  string
	err   error
}

// NewLazyList returns a listing that starts at the page startToken names
// ("" for the first page) and fetches pages with fetch, passing it ctx.
// No page is fetched until the caller asks for the first item.
func NewLazyList[T any](ctx context.Context, startToken string, fetch PageFunc[T]) *LazyList[T] {
	return &LazyList[T]{ctx: ctx, fetch: fetch, pageToken: startToken, nextToken: startToken, idx: -1}
}

// NewErrorList returns a listing that yields no item and fails with err.
// Drivers return it when a listing cannot start, such as for a nil
// container.
func NewErrorList[T any](err error) *LazyList[T] {
	return &LazyList[T]{started: true, finished: true, err: err, idx: -1}
}

// Next advances to the next item, fetching a page if needed, and reports
// whether there is one. When it returns false, Err tells whether the
// listing ended or failed.
func (l *LazyList[T]) Next() bool {
	if l.finished {
		return false
	}
	if err := l.ctx.Err(); err != nil {
		l.fail(err)
		return false
	}
	for {
		if l.started && l.idx+1 < len(l.page) {
			l.idx++
			return true
		}
		if l.started && l.nextToken == "" {
			l.finished = true
			l.page, l.idx = nil, -1
			return false
		}
		token := l.nextToken
		res := l.fetchPage(token)
		l.started = true
		if res.err != nil {
			l.fail(res.err)
			return false
		}
		if res.next != "" && res.next == token {
			l.fail(errors.New("storage: listing returned the token of the same page again"))
			return false
		}
		l.page, l.idx = res.items, -1
		l.pageToken, l.nextToken = token, res.next
		if l.nextToken != "" {
			l.fetchAhead()
		}
	}
}

// fetchPage returns the page token names, from the fetch ahead when there
// is one.
func (l *LazyList[T]) fetchPage(token string) pageResult[T] {
	if l.ahead != nil {
		// Waiting for it, even when stopped, keeps calls of fetch sequential.
		res := <-l.ahead
		stopped := l.stopped
		l.ahead, l.cancel, l.stopped = nil, nil, false
		// A fetch ahead that failed because Close stopped it is made again.
		if res.err == nil || !stopped || l.ctx.Err() != nil {
			return res
		}
	}
	items, next, err := l.fetchTimed(l.ctx, token)
	return pageResult[T]{items, next, err}
}

// fetchAhead starts fetching the page nextToken names. The goroutine ends
// when that one fetch does: its channel has room for the result.
func (l *LazyList[T]) fetchAhead() {
	ctx, cancel := context.WithCancel(l.ctx)
	ch := make(chan pageResult[T], 1)
	token := l.nextToken
	go func() {
		defer cancel()
		items, next, err := l.fetchTimed(ctx, token)
		ch <- pageResult[T]{items, next, err}
	}()
	l.ahead, l.cancel = ch, cancel
}

func (l *LazyList[T]) fail(err error) {
	l.err = err
	l.finished = true
	l.page, l.idx = nil, -1
	l.Close()
}

// NextPage returns the items of the current page after the current item,
// or else the whole next page, and moves past them; nil once the
// listing has ended (Err then tells whether it failed). It lets a caller
// work a page at a time, and with Token resume exactly at a page's end.
func (l *LazyList[T]) NextPage() []T {
	if !l.Next() {
		return nil
	}
	items := l.page[l.idx:]
	l.idx = len(l.page) - 1
	return items
}

// Item returns the current item. It is valid after Next returned true.
func (l *LazyList[T]) Item() T {
	if l.idx < 0 || l.idx >= len(l.page) {
		var zero T
		return zero
	}
	return l.page[l.idx]
}

// Err returns the error that ended the listing, or nil.
func (l *LazyList[T]) Err() error {
	return l.err
}

// Token returns a token from which a later listing (ListOptions.StartToken)
// resumes without missing any item the caller has not yet been given by
// Next. When the current page has been consumed that is the next page's
// token; in the middle of a page it is the current page's, so the resumed
// listing may repeat items of that page. It is "" once the listing has
// ended, and before the first Next it is the start token.
func (l *LazyList[T]) Token() string {
	switch {
	case l.finished:
		return ""
	case !l.started:
		return l.nextToken
	case l.idx+1 < len(l.page):
		return l.pageToken
	default:
		return l.nextToken
	}
}

// Close stops any fetch ahead. The list stays usable: a later Next fetches
// what it needs. Breaking out of a range over All calls it.
func (l *LazyList[T]) Close() {
	if l.cancel != nil {
		l.cancel()
		l.cancel = nil
		l.stopped = true
	}
}

// All returns an iterator over the remaining items for use with range. A
// failure is yielded once, as the last pair, with a zero item.
func (l *LazyList[T]) All() iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for l.Next() {
			if !yield(l.Item(), nil) {
				l.Close()
				return
			}
		}
		if l.err != nil {
			var zero T
			yield(zero, l.err)
		}
	}
}

// Collect returns all the remaining items. On failure it returns the items
// fetched before it and the error.
func (l *LazyList[T]) Collect() ([]T, error) {
	var items []T
	for l.Next() {
		items = append(items, l.Item())
	}
	return items, l.err
}
