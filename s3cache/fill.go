package s3cache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A fill is the one S3 GET that writes an object into the disk tier. It runs in its own
// goroutine, at the speed of S3 and the disk rather than of any client, and every request for
// the object while it runs reads the file as it grows: a reader that has caught up waits on a
// condition variable that the fill broadcasts after each write, so bytes reach all clients as
// they arrive, with no polling and no second S3 request. The file is written under a
// temporary name and renamed when complete, so a file under its final name is always whole.

var (
	errCorrupt    = errors.New("s3cache: disk tier: file has the wrong size")
	errFillFailed = errors.New("s3cache: disk tier: the fill failed")
)

// diskFile is one object's file in the disk tier.
type diskFile struct {
	name       string
	path, part string // final and temporary paths
	size       int64
	entry      atomic.Pointer[entry] // the latest entry served from this file
	cancel     context.CancelFunc    // ends the fill (Handler.Close)

	// Guarded by the diskStore's mu.
	el     *list.Element // nil once out of the index
	pinned bool          // being written: never evicted

	mu      sync.Mutex
	cond    sync.Cond // broadcast when written, done or err changes
	written int64
	done    bool  // complete and renamed to path
	err     error // the fill failed
}

func (df *diskFile) progress(n int64) {
	df.mu.Lock()
	df.written = n
	df.cond.Broadcast()
	df.mu.Unlock()
}

// complete renames the file to its final name. The rename happens under mu, where readers open
// the temporary name, so a reader opens whichever name the file has.
func (df *diskFile) complete() error {
	df.mu.Lock()
	defer df.mu.Unlock()
	err := os.Rename(df.part, df.path)
	if err != nil {
		df.err = fmt.Errorf("%w: %w", errFillFailed, err)
	} else {
		df.done = true
	}
	df.cond.Broadcast()
	return err
}

func (df *diskFile) fail(err error) {
	df.mu.Lock()
	df.err = fmt.Errorf("%w: %w", errFillFailed, err)
	df.cond.Broadcast()
	df.mu.Unlock()
}

// wait blocks until byte off has been written, and returns how many bytes have been.
func (df *diskFile) wait(off int64) (int64, error) {
	df.mu.Lock()
	defer df.mu.Unlock()
	for df.written <= off && df.err == nil && !df.done {
		df.cond.Wait()
	}
	if df.written <= off {
		if df.err != nil {
			return 0, df.err
		}
		return 0, io.ErrUnexpectedEOF
	}
	return df.written, nil
}

// open returns a reader of its own (its own file descriptor) on the file, complete or still
// being written. A complete file whose size is not the object's is refused as corrupt.
func (df *diskFile) open() (*fileReader, error) {
	df.mu.Lock()
	if err := df.err; err != nil {
		df.mu.Unlock()
		return nil, err
	}
	if !df.done {
		f, err := os.Open(df.part)
		df.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return &fileReader{f: f, df: df}, nil
	}
	df.mu.Unlock()
	f, err := os.Open(df.path)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != df.size {
		_ = f.Close()
		return nil, errCorrupt
	}
	return &fileReader{f: f}, nil
}

// fileReader is one response's descriptor on a diskFile.
type fileReader struct {
	f  *os.File
	df *diskFile // set when opened while the file was being written
	// resume, when set, fetches bytes [off, end) of the same object version from S3, for a
	// reader of a fill that failed: its client gets the rest of the object all the same.
	resume func(off, end int64) (io.ReadCloser, error)
}

// available blocks until byte off is readable and returns how far the file is readable.
func (r *fileReader) available(off int64) (int64, error) {
	if r.df == nil {
		return math.MaxInt64, nil
	}
	return r.df.wait(off)
}

// fileStream is the bytes [off, end) of a file as a response body. Its WriteTo hands the file
// itself (as an io.LimitedReader) to the writer's ReadFrom, so net/http and fasthttp send a
// complete file with sendfile(2).
type fileStream struct {
	r        *fileReader
	off, end int64
	owner    bool          // Close closes r
	tail     io.ReadCloser // the rest from S3, after the fill failed
}

// resumeFromS3 switches the stream to S3 for the rest of its bytes after its fill failed
// with fillErr, when the reader can.
func (s *fileStream) resumeFromS3(fillErr error) error {
	if s.r.resume == nil {
		return fillErr
	}
	tail, err := s.r.resume(s.off, s.end)
	if err != nil {
		return fillErr
	}
	s.tail = tail
	return nil
}

func (s *fileStream) Read(p []byte) (int, error) {
	if s.off >= s.end {
		return 0, io.EOF
	}
	if s.tail != nil {
		n, err := s.tail.Read(p[:min(int64(len(p)), s.end-s.off)])
		s.off += int64(n)
		if errors.Is(err, io.EOF) && s.off < s.end {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	avail, err := s.r.available(s.off)
	if err != nil {
		if err := s.resumeFromS3(err); err != nil {
			return 0, err
		}
		return s.Read(p)
	}
	n := min(int64(len(p)), s.end-s.off, avail-s.off)
	m, err := s.r.f.ReadAt(p[:n], s.off)
	s.off += int64(m)
	if errors.Is(err, io.EOF) {
		err = nil
		if int64(m) < n {
			err = io.ErrUnexpectedEOF
		}
	}
	return m, err
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// WriteTo writes the rest of the stream to w, one stretch of written bytes at a time.
func (s *fileStream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for s.off < s.end {
		if s.tail != nil {
			buf := copyBufs.Get().(*[]byte)
			c, err := io.CopyBuffer(w, io.LimitReader(s.tail, s.end-s.off), *buf)
			copyBufs.Put(buf)
			total += c
			s.off += c
			if err == nil && s.off < s.end {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		avail, err := s.r.available(s.off)
		if err != nil {
			if err := s.resumeFromS3(err); err != nil {
				return total, err
			}
			continue
		}
		n := min(s.end, avail) - s.off
		if _, err := s.r.f.Seek(s.off, io.SeekStart); err != nil {
			return total, err
		}
		buf := copyBufs.Get().(*[]byte)
		c, err := io.CopyBuffer(w, &io.LimitedReader{R: s.r.f, N: n}, *buf)
		copyBufs.Put(buf)
		total += c
		s.off += c
		if err != nil {
			return total, err
		}
		if c < n {
			return total, io.ErrUnexpectedEOF
		}
	}
	return total, nil
}

func (s *fileStream) Close() error {
	if s.tail != nil {
		_ = s.tail.Close()
		s.tail = nil
	}
	if !s.owner || s.r == nil {
		return nil
	}
	err := s.r.f.Close()
	s.r = nil
	return err
}

// multiBody is a multipart/byteranges body read from one file descriptor.
type multiBody struct {
	mr      io.Reader // an io.MultiReader of part headers and streams
	streams []*fileStream
	r       *fileReader
}

func (b *multiBody) Read(p []byte) (int, error)         { return b.mr.Read(p) }
func (b *multiBody) WriteTo(w io.Writer) (int64, error) { return b.mr.(io.WriterTo).WriteTo(w) }

func (b *multiBody) Close() error {
	if b.r == nil {
		return nil
	}
	for _, s := range b.streams {
		_ = s.Close()
	}
	err := b.r.f.Close()
	b.r = nil
	return err
}

// startFill puts the object of a successful GetObject into the disk tier: it reserves room,
// creates the temporary file, publishes the entry (readers may attach at once) and starts the
// fill. When the tier cannot take the object it reports false, with out untouched, and the
// caller streams it; a disk error also goes to OnError and Stats.DiskFallbacks.
func (h *Handler) startFill(e *entry, out *s3.GetObjectOutput, cancel context.CancelFunc, stall *time.Timer) bool {
	df, err := h.disk.reserve(e.name, e.meta.Size, cancel)
	if err != nil {
		h.stats.diskFallbacks.Add(1)
		return false
	}
	f, err := h.disk.hooks.create(df.part)
	if err == nil {
		if err = h.disk.hooks.preallocate(f, df.size); err != nil {
			_ = f.Close()
		}
	}
	if err != nil {
		h.diskFailed(e.name, "create", err)
		h.disk.finished(df, true)
		return false
	}
	e.file = df
	df.entry.Store(e)
	h.publish(e)
	go h.runFill(df, f, out, cancel, stall)
	return true
}

// runFill copies the S3 body into the file, waking readers after each write. stall ends the
// fill when S3 sends nothing for Options.FetchTimeout.
func (h *Handler) runFill(df *diskFile, f *os.File, out *s3.GetObjectOutput, cancel context.CancelFunc, stall *time.Timer) {
	defer stall.Stop()
	defer cancel()
	defer out.Body.Close()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	var off int64
	var s3Err, diskErr error
	for off < df.size && s3Err == nil && diskErr == nil {
		n, err := out.Body.Read((*buf)[:min(int64(len(*buf)), df.size-off)])
		if n > 0 {
			stall.Reset(h.opts.FetchTimeout)
			h.stats.s3BodyBytes.Add(int64(n))
			if _, werr := h.disk.hooks.write(f, (*buf)[:n]); werr != nil {
				diskErr = werr
				break
			}
			off += int64(n)
			df.progress(off)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			s3Err = err
		} else if err != nil && off < df.size {
			s3Err = io.ErrUnexpectedEOF // S3 sent less than its Content-Length
		}
	}
	if err := f.Close(); err != nil && diskErr == nil && s3Err == nil {
		diskErr = err
	}
	if s3Err == nil && diskErr == nil {
		diskErr = df.complete()
	}
	switch {
	case s3Err != nil:
		err := fmt.Errorf("s3cache: read %q: %w", df.name, s3Err)
		df.fail(err)
		if !h.disk.isClosed() { // Close ended it
			h.stats.s3Errors.Add(1)
			h.opts.OnError(h.opts.Prefix+df.name, err)
		}
	case diskErr != nil:
		df.fail(diskErr)
		h.diskFailed(df.name, "write", diskErr)
	}
	h.disk.finished(df, s3Err != nil || diskErr != nil)
}

// diskFailed counts and reports a failure of the disk tier for name.
func (h *Handler) diskFailed(name, op string, err error) {
	h.stats.diskFallbacks.Add(1)
	h.opts.OnError(h.opts.Prefix+name, fmt.Errorf("%w: %s %q: %w", ErrDisk, op, name, err))
}
