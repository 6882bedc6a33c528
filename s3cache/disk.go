package s3cache

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrDisk marks the errors of the disk tier that Options.OnError receives (errors.Is). After
// one, the object concerned is streamed from S3 instead: a disk that is full, read-only or
// failing costs S3 requests, never a client's response.
var ErrDisk = errors.New("s3cache: disk tier")

// errNoRoom means the disk budget is taken by files still being written.
var errNoRoom = errors.New("s3cache: disk tier: no room left by the files being written")

// The tier's files are named filePrefix + a random per-Handler nonce + a sequence number, never
// after an object's key, so no key can name a path, inside DiskDir or out of it. A file being
// written has partSuffix until it is complete and renamed.
const (
	filePrefix = "s3c-"
	partSuffix = ".part"
	lockName   = ".s3cache.lock"
)

// diskStore is the disk tier: an index of the object files in one directory, bounded by the
// sum of their sizes, least recently used evicted first. Entries of disk objects live here, not
// in the memory LRU. Safe for concurrent use.
type diskStore struct {
	dir   string
	max   int64
	nonce string
	seq   atomic.Uint64
	lock  io.Closer
	hooks diskHooks

	fills sync.WaitGroup // one per reserved file until finished; no Add once closed

	mu        sync.Mutex
	used      int64
	ll        list.List // front = most recently used; values are *diskFile
	m         map[string]*diskFile
	evictions int64
	closed    bool
}

// diskHooks are the file-system operations a fill makes; tests replace them to inject faults.
type diskHooks struct {
	create      func(path string) (*os.File, error)
	preallocate func(f *os.File, size int64) error
	write       func(f *os.File, p []byte) (int, error)
}

var defaultHooks = diskHooks{
	create: func(path string) (*os.File, error) {
		return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	},
	preallocate: preallocate,
	write:       func(f *os.File, p []byte) (int, error) { return f.Write(p) },
}

// openDiskStore prepares dir for a new Handler: it creates it when missing, locks it against
// a second Handler (in this process or another) where the platform has flock, and removes
// the files a previous run left, which it recognizes by name (filePrefix); anything else in
// dir, and every subdirectory and symbolic link, is left alone.
//
// Files from a previous run are removed rather than reused: their metadata (validators,
// freshness) lived in that run's memory, and a file cut short by a crash looks like any
// other. Re-fetching costs one S3 GET per object.
func openDiskStore(dir string, maxBytes int64) (*diskStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("s3cache: Options.DiskDir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("s3cache: Options.DiskDir: %w", err)
	}
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), filePrefix) && de.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				_ = lock.Close()
				return nil, fmt.Errorf("s3cache: Options.DiskDir: removing a file of a previous run: %w", err)
			}
		}
	}
	var nonce [6]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand documents it)
	return &diskStore{dir: dir, max: maxBytes, nonce: hex.EncodeToString(nonce[:]), lock: lock,
		hooks: defaultHooks, m: map[string]*diskFile{}}, nil
}

// get returns the entry of name's file and marks it recently used.
func (s *diskStore) get(name string) *entry {
	s.mu.Lock()
	df := s.m[name]
	if df == nil {
		s.mu.Unlock()
		return nil
	}
	s.ll.MoveToFront(df.el)
	s.mu.Unlock()
	return df.entry.Load()
}

// has reports whether df is still in the index (not evicted, replaced or failed).
func (s *diskStore) has(df *diskFile) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return df.el != nil
}

// reserve makes room for a file of size bytes for name, evicting least recently used files
// that are complete, and indexes it (replacing name's previous file). The new file is pinned,
// so never evicted, until its fill finishes, which cancel ends early; the caller must call
// finished for it.
func (s *diskStore) reserve(name string, size int64, cancel context.CancelFunc) (*diskFile, error) {
	var doomed []string
	defer func() { removeFiles(doomed) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errNoRoom
	}
	if old := s.m[name]; old != nil {
		doomed = s.dropLocked(old, doomed)
	}
	for el := s.ll.Back(); el != nil && s.used+size > s.max; {
		df := el.Value.(*diskFile)
		el = el.Prev()
		if !df.pinned {
			doomed = s.dropLocked(df, doomed)
			s.evictions++
		}
	}
	if s.used+size > s.max {
		return nil, errNoRoom
	}
	path := filepath.Join(s.dir, filePrefix+s.nonce+"-"+strconv.FormatUint(s.seq.Add(1), 16))
	df := &diskFile{name: name, path: path, part: path + partSuffix, size: size, pinned: true, cancel: cancel}
	df.cond.L = &df.mu
	df.el = s.ll.PushFront(df)
	s.m[name] = df
	s.used += size
	s.fills.Add(1)
	return df, nil
}

// dropLocked takes df out of the index and returns doomed with the path to remove, unless
// df's fill is still running (it removes its own file when it ends).
func (s *diskStore) dropLocked(df *diskFile, doomed []string) []string {
	if df.el == nil {
		return doomed
	}
	s.ll.Remove(df.el)
	df.el = nil
	delete(s.m, df.name)
	s.used -= df.size
	if df.pinned {
		return doomed
	}
	return append(doomed, df.path)
}

// put publishes e, whose file is indexed, as the current entry of its name. It reports false
// when the file has left the index meanwhile.
func (s *diskStore) put(e *entry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	df := e.file
	if df.el == nil {
		return false
	}
	df.entry.Store(e)
	s.ll.MoveToFront(df.el)
	return true
}

// remove drops the file of name, if any.
func (s *diskStore) remove(name string) {
	var doomed []string
	s.mu.Lock()
	if df := s.m[name]; df != nil {
		doomed = s.dropLocked(df, doomed)
	}
	s.mu.Unlock()
	removeFiles(doomed)
}

// drop removes df (a file found corrupt or missing) if it is still indexed.
func (s *diskStore) drop(df *diskFile) {
	s.mu.Lock()
	doomed := s.dropLocked(df, nil)
	s.mu.Unlock()
	removeFiles(doomed)
}

// finished unpins df when its fill ends. A failed fill, or one whose file left the index
// while it ran, removes its file.
func (s *diskStore) finished(df *diskFile, failed bool) {
	defer s.fills.Done()
	s.mu.Lock()
	df.pinned = false
	if failed {
		s.dropLocked(df, nil)
	}
	gone := df.el == nil
	s.mu.Unlock()
	if gone {
		removeFiles([]string{df.path, df.part})
	}
}

// close makes the store refuse new files, ends the fills in progress and waits for them, then
// removes every file and releases the directory lock.
func (s *diskStore) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, df := range s.m {
		if df.pinned {
			df.cancel()
		}
	}
	s.mu.Unlock()
	s.fills.Wait()
	s.mu.Lock()
	var doomed []string
	for el := s.ll.Front(); el != nil; {
		df := el.Value.(*diskFile)
		el = el.Next()
		doomed = s.dropLocked(df, doomed)
	}
	s.mu.Unlock()
	removeFiles(doomed)
	return s.lock.Close()
}

func (s *diskStore) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *diskStore) size() (files int, bytes, evictions int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m), s.used, s.evictions
}

func removeFiles(paths []string) {
	for _, p := range paths {
		_ = os.Remove(p) // gone already is fine; another failure leaves a file the next start removes
	}
}
