package local

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/stowage/storage"
)

// ListContainerObjects lists objects in byte order of their full names, as
// S3 does. Folders are read only where the prefix can match, each once per
// listing: a cursor kept between pages resumes the walk where the last page
// ended instead of starting again from the container's folder.
func (d *Driver) ListContainerObjects(ctx context.Context, c *storage.Container, opts *storage.ListOptions) *storage.LazyList[*storage.Object] {
	if err := storage.ValidateContainer(c); err != nil {
		return storage.NewErrorList[*storage.Object](opError("ListContainerObjects", "", "", nil, err))
	}
	if opts == nil {
		opts = &storage.ListOptions{}
	}
	w := &walker{d: d, c: c, prefix: opts.Prefix, delim: opts.Delimiter}
	pageSize := opts.PageSize
	if pageSize <= 0 {
		pageSize = defaultPageSize
	}
	return storage.NewLazyList(ctx, opts.StartToken, func(ctx context.Context, token string) ([]*storage.Object, string, error) {
		return w.page(ctx, token, pageSize)
	})
}

// walker walks a container's folders depth-first in byte order of the
// names they hold.
type walker struct {
	d      *Driver
	c      *storage.Container
	prefix string
	delim  string

	after string   // the last name or common prefix returned
	stack []*frame // the folders being read, innermost last
	ready bool     // stack is positioned just after after
}

type frame struct {
	dir     string // folder relative to the container: "" or ending in "/"
	entries []dirEntry
	pos     int
}

type dirEntry struct {
	key string // the entry's name, with "/" appended for a folder
	de  fs.DirEntry
}

func (e dirEntry) isDir() bool { return strings.HasSuffix(e.key, "/") }

func (w *walker) page(ctx context.Context, token string, size int) ([]*storage.Object, string, error) {
	const op = "ListContainerObjects"
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if !w.ready || token != w.after {
		if err := checkContainerName(w.c.Name); err != nil {
			return nil, "", opError(op, w.c.Name, "", err, nil)
		}
		if err := w.d.containerExists(op, w.c.Name); err != nil {
			return nil, "", err
		}
		if err := w.seek(token); err != nil {
			return nil, "", mapErr(op, w.c.Name, "", err, storage.ErrContainerNotFound)
		}
	}
	var out []*storage.Object
	for len(out) < size {
		if len(out)%64 == 0 {
			if err := ctx.Err(); err != nil {
				w.ready = false
				return nil, "", err
			}
		}
		name, e, ok, err := w.next()
		if err != nil {
			w.ready = false
			return nil, "", mapErr(op, w.c.Name, "", err, nil)
		}
		if !ok {
			return out, "", nil
		}
		if cp, isCP := w.commonPrefix(name); isCP {
			if cp == w.after {
				continue // already returned
			}
			p := storage.NewObject(w.c, cp)
			p.IsPrefix = true
			out = append(out, p)
			w.after = cp
			continue
		}
		info, err := e.de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since its folder was read
		}
		if err != nil {
			w.ready = false
			return nil, "", mapErr(op, w.c.Name, name, err, nil)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		raw, _ := getAttrsPath(w.d.dir + "/" + w.c.Name + "/" + name)
		o, _ := objectFrom(w.c, name, info, raw)
		out = append(out, o)
		w.after = name
	}
	return out, w.after, nil
}

// commonPrefix returns the entry that name rolls up into, if any.
func (w *walker) commonPrefix(name string) (string, bool) {
	if w.delim == "" || !strings.HasPrefix(name, w.prefix) {
		return "", false
	}
	i := strings.Index(name[len(w.prefix):], w.delim)
	if i < 0 {
		return "", false
	}
	return name[:len(w.prefix)+i+len(w.delim)], true
}

// seek positions the walk just after the name or common prefix after.
func (w *walker) seek(after string) error {
	w.after, w.stack, w.ready = after, nil, true
	cut := strings.LastIndexByte(w.prefix, '/') + 1
	dir, rest := w.prefix[:cut], w.prefix[cut:]
	if strings.IndexByte(w.prefix, 0) >= 0 || !utf8.ValidString(dir) {
		return nil // no object name has such a prefix
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(dir, "/"), "/") {
		if dir != "" && (seg == "" || seg == "." || seg == ".." || len(seg) > 255) {
			return nil // no object name has such a folder
		}
	}
	f, err := w.readDir(dir, rest)
	if f == nil || err != nil {
		return err
	}
	w.stack = []*frame{f}
	for {
		descend := ""
		for f.pos < len(f.entries) {
			e := f.entries[f.pos]
			k := f.dir + e.key
			if e.isDir() && strings.HasPrefix(after, k) {
				if w.delim == "/" && after == k {
					f.pos++ // a common prefix already returned
					continue
				}
				// It holds names on both sides of after: read on from after
				// (a "/" listing rolls what follows up into k again, if
				// anything does).
				descend = k
				f.pos++
				break
			}
			if k > after {
				break
			}
			f.pos++
		}
		if descend == "" {
			return nil
		}
		sub, err := w.readDir(descend, "")
		if sub == nil || err != nil {
			return err
		}
		w.stack = append(w.stack, sub)
		f = sub
	}
}

// next returns the next object name in order, or, in a listing delimited
// by "/", a folder as its name with a trailing "/".
func (w *walker) next() (string, dirEntry, bool, error) {
	for len(w.stack) > 0 {
		f := w.stack[len(w.stack)-1]
		if f.pos == len(f.entries) {
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		e := f.entries[f.pos]
		f.pos++
		name := f.dir + e.key
		if !e.isDir() {
			return name, e, true, nil
		}
		if w.delim == "/" && strings.HasPrefix(name, w.prefix) {
			return name, e, true, nil // rolls up whole: no need to read it
		}
		sub, err := w.readDir(name, "")
		if err != nil {
			return "", dirEntry{}, false, err
		}
		if sub != nil {
			w.stack = append(w.stack, sub)
		}
	}
	return "", dirEntry{}, false, nil
}

// readDir reads the folder dir of the container, keeping the entries whose
// key starts with keep, sorted by key. A folder that vanished reads as nil.
//
// The folder is opened through the root, so it cannot be outside it, but
// read through a duplicate of its descriptor: entries of a folder opened
// in an os.Root are each stat'ed as they are read, while this way their
// type comes from the folder itself and a file is stat'ed only when a page
// returns it.
func (w *walker) readDir(dir, keep string) (*frame, error) {
	rf, err := w.d.root.Open(w.c.Name + "/" + dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := dupFile(rf, w.d.dir+"/"+w.c.Name+"/"+dir)
	rf.Close()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	entries := make([]dirEntry, 0, len(list))
	for _, de := range list {
		name := de.Name()
		if !utf8.ValidString(name) || len(dir)+len(name) > 1024 {
			continue // not a name this driver could have stored
		}
		switch {
		case de.IsDir():
			name += "/"
		case !de.Type().IsRegular():
			continue // links and devices are not objects
		}
		if strings.HasPrefix(name, keep) {
			entries = append(entries, dirEntry{key: name, de: de})
		}
	}
	slices.SortFunc(entries, func(a, b dirEntry) int { return cmp.Compare(a.key, b.key) })
	return &frame{dir: dir, entries: entries}, nil
}
